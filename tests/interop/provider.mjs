// panva's certified oidc-provider, configured like a strict e-Signet peer:
// private_key_jwt, PKCE required, signed (JWT) userinfo, the claims parameter,
// RP-initiated and back-channel logout. Started by tests/interop.rs on a free
// loopback port; prints "oidc-provider listening on http://127.0.0.1:PORT".
//
// Usage: node provider.mjs <client_id> <redirect_uri> <client_public_jwk_file> <signing_key_pem_file>
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { createPrivateKey } from 'node:crypto';
import Provider from 'oidc-provider';

const [clientId, redirectUri, clientJwkFile, signingKeyFile] = process.argv.slice(2);
const clientJwk = JSON.parse(readFileSync(clientJwkFile, 'utf8'));
const signingJwk = createPrivateKey(readFileSync(signingKeyFile, 'utf8')).export({ format: 'jwk' });
signingJwk.kid = 'interop-signing';
signingJwk.use = 'sig';

const server = http.createServer();
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  const postLogout = new URL(redirectUri);
  const provider = new Provider(issuer, {
    clients: [{
      client_id: clientId,
      redirect_uris: [redirectUri],
      post_logout_redirect_uris: [`${postLogout.origin}/`, `${postLogout.origin}/public/bye`],
      response_types: ['code'],
      grant_types: ['authorization_code'],
      token_endpoint_auth_method: 'private_key_jwt',
      token_endpoint_auth_signing_alg: 'RS256',
      userinfo_signed_response_alg: 'RS256',
      id_token_signed_response_alg: 'RS256',
      jwks: { keys: [clientJwk] },
      backchannel_logout_uri: `${postLogout.origin}/_gateway/backchannel-logout`,
      backchannel_logout_session_required: true,
    }],
    jwks: { keys: [signingJwk] },
    pkce: { required: () => true },
    // The gateway under test listens on loopback, which the provider's SSRF
    // guard refuses; this test peer only ever talks to loopback.
    fetch: (url, options) => {
      delete options.dispatcher;
      return fetch(url, options);
    },
    features: {
      devInteractions: { enabled: true },
      jwtUserinfo: { enabled: true },
      claimsParameter: { enabled: true },
      rpInitiatedLogout: { enabled: true },
      backchannelLogout: { enabled: true },
    },
    claims: {
      openid: ['sub'],
      profile: ['name', 'birthdate', 'gender'],
      email: ['email'],
      phone: ['phone_number'],
      address: ['address'],
    },
    findAccount: async (ctx, id) => ({
      accountId: id,
      claims: async () => ({
        sub: id,
        name: 'Interop Person',
        email: `${id}@interop.example`,
        birthdate: '1990/02/03',
        gender: 'female',
        phone_number: '+33600000000',
        address: { locality: 'Lyon', country: 'France' },
      }),
    }),
  });
  provider.proxy = false;
  provider.on('backchannel.error', (ctx, err, client) => console.error('backchannel.error', err && err.message, err && err.cause));
  provider.on('backchannel.success', (ctx, client) => console.error('backchannel.success'));
  provider.on('end_session.error', (ctx, err) => console.error('end_session.error', err && err.message));
  server.on('request', provider.callback());
  console.log(`oidc-provider listening on ${issuer}`);
});
