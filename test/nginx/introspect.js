// nginx as an RFC 7662 introspection gateway in front of an upstream, with Latchkey unchanged:
// the pattern of NGINX's own "validating OAuth 2.0 access tokens" guide (auth_request + njs).
// `check` runs as the auth_request handler: it asks POST /oauth2/introspect about the caller's
// token, and answers 204 with the claims the upstream needs, 401 or 403 otherwise.
// Needs njs (Debian: libnginx-mod-http-js). Used as is by test/component/nginx.test.ts.

const REALM = 'Bearer realm="latchkey"';

/** The end user's token: `Authorization: Bearer …`, else `X-Api-Key`. */
function tokenOf(r) {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(r.headersIn.Authorization || '');
  return m ? m[1] : r.headersIn['X-Api-Key'] || '';
}

function deny(r, status, error, scope) {
  let challenge = REALM;
  if (error) challenge += ', error="' + error + '"';
  if (scope) challenge += ', scope="' + scope + '"';
  r.headersOut['WWW-Authenticate'] = challenge;
  r.return(status);
}

function check(r) {
  const token = tokenOf(r);
  if (!token) return deny(r, 401);
  // The token travels as the subrequest's argument, which only the /_introspect location sees;
  // nginx does not log subrequests unless log_subrequest is on.
  r.subrequest('/_introspect', 'token=' + encodeURIComponent(token))
    .then((reply) => {
      if (reply.status !== 200) throw new Error('introspection answered ' + reply.status);
      const claims = JSON.parse(reply.responseText);
      if (claims.active !== true) return deny(r, 401, 'invalid_token');
      // Introspection says what the token may do; which scopes this route needs is the gateway's
      // to decide. Latchkey's scopes match exactly, as they do on /v1/verify.
      const granted = String(claims.scope || '').split(' ');
      const required = String(r.variables.latchkey_scopes || '')
        .split(' ')
        .filter((s) => s !== '');
      if (!required.every((s) => granted.includes(s))) return deny(r, 403, 'insufficient_scope', required.join(' '));
      r.headersOut['X-Latchkey-Token-Id'] = claims.client_id;
      r.headersOut['X-Latchkey-Owner-Id'] = claims.sub;
      r.headersOut['X-Latchkey-Tenant-Id'] = claims.tenant_id;
      r.headersOut['X-Latchkey-Scopes'] = claims.scope;
      if (claims.rotation_pending === true) r.headersOut['X-Latchkey-Rotation-Pending'] = 'true';
      r.return(204);
    })
    .catch((e) => {
      // Never the token: only what went wrong.
      r.error('latchkey introspection failed: ' + e.message);
      r.return(500);
    });
}

export default { check };
