// The one function the JUnit test uses from xml2js (a devDependency without bundled types).
declare module 'xml2js' {
  export function parseStringPromise(xml: string, options?: Record<string, unknown>): Promise<unknown>;
}
