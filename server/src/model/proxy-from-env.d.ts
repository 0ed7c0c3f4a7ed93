// proxy-from-env ships no types; this is the one function Cloze uses (its README documents it).
declare module 'proxy-from-env' {
  /**
   * The proxy URL the environment names for `url` (`<scheme>_PROXY`, then
   * `ALL_PROXY`, either case, minus the hosts of `NO_PROXY`), or '' for none.
   */
  export function getProxyForUrl(url: string | URL): string;
}
