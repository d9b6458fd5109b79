//! Getting a Microsoft Graph token with the three source credentials: a client secret, a
//! certificate (roster signs a client assertion), and a federated GitHub Actions OIDC token.
//! The token request is the OAuth 2.0 client-credentials grant at
//! `{login}/{tenant}/oauth2/v2.0/token`, written by hand (two form fields differ per credential).

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use super::GraphError;
use crate::config::{Source, SourceCredential};
use crate::endpoint::{EntraEndpoints, Env};
use crate::http::{Http, HttpError};

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// The audience GitHub's OIDC token must carry for Entra's federated credentials.
pub(crate) const FEDERATED_AUDIENCE: &str = "api://AzureADTokenExchange";

/// A credential with its secrets read.
pub(super) struct Auth {
    token_url: String,
    client_id: String,
    tenant: String,
    scope: String,
    kind: Kind,
}

enum Kind {
    Secret(SecretString),
    Certificate {
        key: EncodingKey,
        x5t: String,
        x5t_s256: String,
    },
    Federated(Federated),
}

/// Where the GitHub Actions OIDC token comes from, read from the environment once.
enum Federated {
    File(String),
    Actions { url: String, token: SecretString },
    Missing,
}

impl Auth {
    pub(super) fn new(
        source: &Source,
        base: &Path,
        endpoints: &EntraEndpoints,
        env: Env<'_>,
    ) -> Result<Auth, GraphError> {
        let kind = match &source.credential {
            SourceCredential::ClientSecret(secret) => {
                Kind::Secret(secret.resolve(base, "/source/credential/client_secret")?)
            }
            SourceCredential::Certificate(cert) => {
                let key = cert
                    .private_key
                    .resolve(base, "/source/credential/certificate/private_key")?;
                let pem = cert
                    .certificate
                    .resolve(base, "/source/credential/certificate/certificate")?;
                let key = crate::config::rsa_signing_key(key.expose_secret()).map_err(|e| {
                    GraphError::Credential(format!(
                        "/source/credential/certificate/private_key is not a PEM RSA private key: {e}"
                    ))
                })?;
                let der = certificate_der(pem.expose_secret()).ok_or_else(|| {
                    GraphError::Credential(
                        "/source/credential/certificate/certificate is not a PEM certificate \
                         (-----BEGIN CERTIFICATE-----)"
                            .to_owned(),
                    )
                })?;
                Kind::Certificate {
                    key,
                    x5t: URL_SAFE_NO_PAD.encode(
                        aws_lc_rs::digest::digest(
                            &aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY,
                            &der,
                        )
                        .as_ref(),
                    ),
                    x5t_s256: URL_SAFE_NO_PAD.encode(
                        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &der).as_ref(),
                    ),
                }
            }
            SourceCredential::Federated(_) => {
                let set = |name: &str| env(name).filter(|v| !v.is_empty());
                Kind::Federated(
                    match (
                        set("AZURE_FEDERATED_TOKEN_FILE"),
                        set("ACTIONS_ID_TOKEN_REQUEST_URL"),
                        set("ACTIONS_ID_TOKEN_REQUEST_TOKEN"),
                    ) {
                        (Some(file), _, _) => Federated::File(file),
                        (None, Some(url), Some(token)) => Federated::Actions {
                            url,
                            token: SecretString::from(token),
                        },
                        _ => Federated::Missing,
                    },
                )
            }
        };
        Ok(Auth {
            // The tenant is one path segment, whatever it holds (the config's schema allows a
            // GUID or a domain; `import` takes it from the command line).
            token_url: format!(
                "{}/{}/oauth2/v2.0/token",
                endpoints.entra_login,
                crate::http::encode(&source.tenant_id)
            ),
            client_id: source.client_id.clone(),
            tenant: source.tenant_id.clone(),
            scope: format!("{}/.default", endpoints.graph),
            kind,
        })
    }

    /// A fresh token and its lifetime.
    pub(super) async fn fetch(
        &self,
        http: &Http,
    ) -> Result<(SecretString, Option<Duration>), GraphError> {
        let failed = |source: HttpError| GraphError::Token {
            client_id: self.client_id.clone(),
            tenant: self.tenant.clone(),
            error: Box::new(source),
        };
        let mut form: Vec<(&str, String)> = vec![
            ("grant_type", "client_credentials".to_owned()),
            ("client_id", self.client_id.clone()),
            ("scope", self.scope.clone()),
        ];
        let secret = match &self.kind {
            Kind::Secret(secret) => ("client_secret", secret.expose_secret().to_owned()),
            Kind::Certificate { key, x5t, x5t_s256 } => {
                ("client_assertion", self.assertion(key, x5t, x5t_s256)?)
            }
            // GitHub's tokens are short-lived: a fresh one for every exchange.
            Kind::Federated(source) => ("client_assertion", github_token(http, source).await?),
        };
        if secret.0 == "client_assertion" {
            form.push(("client_assertion_type", ASSERTION_TYPE.to_owned()));
        }
        form.push(secret);
        let what = http
            .request(Method::POST, &self.token_url)
            .map_err(failed)?;
        let failed = |source: HttpError| failed(source.without_credentials(&form));
        let reply = http
            .send(&what, |client| client.post(&self.token_url).form(&form))
            .await
            .map_err(failed)?;
        let body = reply.json(&what).map_err(failed)?;
        let token = body
            .get("access_token")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                GraphError::Read(format!(
                    "the Entra token response for client {} has no access_token",
                    self.client_id
                ))
            })?;
        let lifetime = body
            .get("expires_in")
            .and_then(|v| v.as_u64().or_else(|| v.as_str()?.parse().ok()))
            .map(Duration::from_secs);
        tracing::debug!(target: "roster::graph", "got a Graph token for client {}", self.client_id);
        Ok((SecretString::from(token.to_owned()), lifetime))
    }

    /// The certificate client assertion: RS256, `aud` = the token endpoint, `iss` = `sub` = the
    /// client id, ten minutes of validity, and both thumbprint headers Entra accepts.
    fn assertion(
        &self,
        key: &EncodingKey,
        x5t: &str,
        x5t_s256: &str,
    ) -> Result<String, GraphError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let mut header = Header::new(Algorithm::RS256);
        header.x5t = Some(x5t.to_owned());
        header.x5t_s256 = Some(x5t_s256.to_owned());
        let claims = serde_json::json!({
            "aud": self.token_url,
            "iss": self.client_id,
            "sub": self.client_id,
            "jti": format!("roster-{}-{}", now.as_nanos(), std::process::id()),
            "nbf": now.as_secs(),
            "iat": now.as_secs(),
            "exp": now.as_secs() + 600,
        });
        jsonwebtoken::encode(&header, &claims, key).map_err(|e| {
            GraphError::Credential(format!("cannot sign the Entra client assertion: {e}"))
        })
    }
}

/// The DER bytes of the first certificate in a PEM text.
pub(crate) fn certificate_der(pem: &str) -> Option<Vec<u8>> {
    let start = pem.find("-----BEGIN CERTIFICATE-----")? + "-----BEGIN CERTIFICATE-----".len();
    let end = start + pem[start..].find("-----END CERTIFICATE-----")?;
    let body: String = pem[start..end].split_whitespace().collect();
    STANDARD.decode(body).ok().filter(|der| !der.is_empty())
}

/// The GitHub Actions OIDC token for Entra: from the file `AZURE_FEDERATED_TOKEN_FILE` names,
/// or from `ACTIONS_ID_TOKEN_REQUEST_URL` with `ACTIONS_ID_TOKEN_REQUEST_TOKEN`.
async fn github_token(http: &Http, source: &Federated) -> Result<String, GraphError> {
    let (url, request_token) = match source {
        Federated::File(path) => {
            let token = std::fs::read_to_string(path).map_err(|e| {
                GraphError::Credential(format!(
                    "cannot read the federated token file {path} (AZURE_FEDERATED_TOKEN_FILE): {e}"
                ))
            })?;
            return Ok(token.trim().to_owned());
        }
        Federated::Actions { url, token } => (url, token),
        Federated::Missing => {
            return Err(GraphError::Credential(
                "/source/credential is `federated: github_actions`, but neither \
                 AZURE_FEDERATED_TOKEN_FILE nor ACTIONS_ID_TOKEN_REQUEST_URL and \
                 ACTIONS_ID_TOKEN_REQUEST_TOKEN are set. In GitHub Actions, give the job \
                 `permissions: id-token: write`"
                    .to_owned(),
            ));
        }
    };
    let mut url = crate::url_rules::check_url(url).map_err(|e| {
        GraphError::Credential(format!("ACTIONS_ID_TOKEN_REQUEST_URL is not usable: {e}"))
    })?;
    url.query_pairs_mut()
        .append_pair("audience", FEDERATED_AUDIENCE);
    let url = String::from(url);
    let what = http.request(Method::GET, &url)?;
    let reply = http
        .send(&what, |client| {
            client.get(&url).bearer_auth(request_token.expose_secret())
        })
        .await
        .map_err(|e| {
            GraphError::Credential(format!("cannot get the GitHub Actions OIDC token: {e}"))
        })?;
    reply
        .json(&what)?
        .get("value")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| {
            GraphError::Credential("the GitHub Actions OIDC response has no `value`".to_owned())
        })
}

#[cfg(test)]
mod tests {
    use super::certificate_der;

    #[test]
    fn reads_the_demo_certificate() {
        let pem = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("examples/demo/keys/demo-signing.crt"),
        )
        .unwrap();
        let der = certificate_der(&pem).unwrap();
        // A DER certificate is a SEQUENCE.
        assert_eq!(der[0], 0x30);
        assert!(certificate_der("no pem here").is_none());
    }

    #[test]
    fn the_tenant_is_one_path_segment_of_the_token_url() {
        let secret = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(secret.path(), "secret").unwrap();
        let source = crate::config::Source {
            tenant_id: "x/../evil?a=1#".to_owned(),
            client_id: "c".to_owned(),
            credential: crate::config::SourceCredential::ClientSecret(
                crate::config::SecretRef::File(secret.path().to_owned()),
            ),
            application: crate::config::Application::DisplayName("App".to_owned()),
            login_url: None,
            graph_url: None,
        };
        let env = |_: &str| None;
        let endpoints = crate::endpoint::EntraEndpoints::of(&source, &env).unwrap();
        let auth = super::Auth::new(&source, std::path::Path::new("."), &endpoints, &env).unwrap();
        assert_eq!(
            auth.token_url,
            "https://login.microsoftonline.com/x%2F..%2Fevil%3Fa%3D1%23/oauth2/v2.0/token"
        );
    }
}
