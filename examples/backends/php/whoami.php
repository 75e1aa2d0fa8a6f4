<?php
/*
 * Sample backend behind mod_jpki: PHP (php-cgi through mod_actions, or
 * PHP-FPM through mod_proxy_fcgi; the code is the same).
 *
 * mod_jpki exports the logged-in customer as environment variables
 * (JPKIPassIdentityAs env, the default; docs/variables.md); PHP shows them in
 * $_SERVER. Rules that keep this safe:
 *
 * - Read REMOTE_USER and JPKI_* only. Never $_SERVER['HTTP_...'] (request
 *   headers, written by the client), $_GET, $_POST, $_REQUEST or $_COOKIE.
 * - Refuse unless REMOTE_USER is set and equals JPKI_ACCOUNT: otherwise the
 *   script was reached without mod_jpki in front, or another module named
 *   the user. Never fall back to a default.
 * - With php-cgi through an Action (Debian's php8.2-cgi.conf), the request
 *   that runs php-cgi is an internal redirect: protect the Action's target
 *   location with AuthType JPKI too (examples/backends/README.md), or the
 *   identity arrives only as REDIRECT_* variables. PHP-FPM has no such step.
 */
function jpki_identity(array $server): ?array
{
    $account = $server['REMOTE_USER'] ?? '';
    if ($account === '' || ($server['JPKI_ACCOUNT'] ?? null) !== $account) {
        return null;
    }
    return [
        'account' => $account,                              // JPKI_ACCOUNT too
        'serial'  => $server['JPKI_CERT_SERIAL'] ?? '',     // <issuer key id>:<serial>
        'method'  => $server['JPKI_AUTH_METHOD'] ?? '',     // challenge | tls
        'status'  => $server['JPKI_STATUS'] ?? '',          // good | unchecked ...
    ];
}

header('Content-Type: text/plain; charset=utf-8');
header('Cache-Control: no-store');
$who = jpki_identity($_SERVER);
if ($who === null) {
    http_response_code(403);
    echo "no identity from mod_jpki\n";
    exit;
}
echo "backend: php\n";
foreach (['account', 'serial', 'method', 'status'] as $k) {
    // text/plain, but escape anyway: copy this into an HTML page and it stays safe
    echo $k, ': ', htmlspecialchars($who[$k], ENT_QUOTES, 'UTF-8'), "\n";
}
