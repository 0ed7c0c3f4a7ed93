/**
 * The environment the language server starts with (pure: no `vscode` import,
 * so the unit tests run it).
 *
 * VS Code applies its `http.proxy` setting to the extension host's own
 * requests only; the language server is a process of its own and downloads
 * models with Node's `http`, which reads no setting. So the client hands the
 * setting on as the variables the server does read (`HTTPS_PROXY`,
 * `HTTP_PROXY`, `NO_PROXY`, through proxy-from-env). As in VS Code, the
 * setting wins over the variables when it is set; when it is empty the
 * environment is passed on as it is.
 */
export function serverEnvironment(
  env: Readonly<Record<string, string | undefined>>,
  httpProxy: string | undefined,
  noProxy: readonly string[] | undefined,
): Record<string, string | undefined> {
  const result = { ...env };
  const proxy = httpProxy?.trim();
  if (proxy) {
    // proxy-from-env reads the lower-case name first: both are set so neither an old value wins.
    for (const name of ['https_proxy', 'http_proxy']) {
      result[name] = proxy;
      result[name.toUpperCase()] = proxy;
    }
  }
  const hosts = (noProxy ?? []).map((host) => host.trim()).filter((host) => host !== '');
  if (hosts.length > 0) {
    const joined = [...hosts, ...(env['no_proxy'] ?? env['NO_PROXY'] ?? '').split(',').filter((host) => host.trim() !== '')].join(',');
    result['no_proxy'] = joined;
    result['NO_PROXY'] = joined;
  }
  return result;
}
