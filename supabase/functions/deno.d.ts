/** The one Deno global the edge entries use, declared so `tsc` checks them in this Node project. */
declare namespace Deno {
  function serve(handler: (request: Request) => Response | Promise<Response>): unknown
}
