//! Signed tokens the emulator checks or issues: Entra client assertions (certificate and
//! federated), Salesforce JWT bearer assertions, and the GitHub Actions OIDC token it hands out
//! in place of GitHub. The issuing key is the demo key in `examples/demo/keys/`, a test key.

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

const ISSUER_KEY: &str = include_str!("../../examples/demo/keys/demo-signing.key");
const ISSUER_PUBLIC: &str = include_str!("../../examples/demo/keys/demo-signing.pub");
/// GitHub's OIDC issuer, as the federated credential expects it.
pub(crate) const GITHUB_ISSUER: &str = "https://token.actions.githubusercontent.com";

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Claims {
    pub(crate) iss: String,
    pub(crate) sub: String,
    pub(crate) aud: String,
    pub(crate) exp: u64,
    #[serde(default)]
    pub(crate) iat: u64,
}

/// Checks an RS256 token's signature with `public_pem`, its expiry, audience (one of
/// `audiences`), issuer and subject (when given).
pub(crate) fn verify(
    token: &str,
    public_pem: &str,
    audiences: &[String],
    issuer: Option<&str>,
    subject: Option<&str>,
) -> Result<Claims, String> {
    let key = DecodingKey::from_rsa_pem(public_pem.as_bytes())
        .map_err(|e| format!("bad public key: {e}"))?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(audiences);
    if let Some(issuer) = issuer {
        validation.set_issuer(&[issuer]);
    }
    validation.sub = subject.map(str::to_owned);
    jsonwebtoken::decode::<Claims>(token, &key, &validation)
        .map(|data| data.claims)
        .map_err(|e| e.to_string())
}

/// The `iss` claim of a token, read without checking anything (to find the key to check with).
pub(crate) fn unverified_issuer(token: &str) -> Option<String> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64url(payload)?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("iss")?.as_str().map(str::to_owned)
}

fn base64url(text: &str) -> Option<Vec<u8>> {
    let value = |c: u8| -> Option<u32> {
        Some(u32::from(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            _ => return None,
        }))
    };
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for c in text.trim_end_matches('=').bytes() {
        acc = (acc << 6) | value(c)?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((acc >> bits) & 0xFF).ok()?);
        }
    }
    Some(out)
}

/// The GitHub Actions OIDC token for `subject` and `audience`, valid for ten minutes.
pub(crate) fn github_token(subject: &str, audience: &str) -> Result<String, String> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let claims = Claims {
        iss: GITHUB_ISSUER.to_owned(),
        sub: subject.to_owned(),
        aud: audience.to_owned(),
        exp: now + 600,
        iat: now,
    };
    let key = EncodingKey::from_rsa_pem(ISSUER_KEY.as_bytes()).map_err(|e| e.to_string())?;
    jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &key).map_err(|e| e.to_string())
}

/// Checks a token the emulator issued as GitHub.
pub(crate) fn verify_github(token: &str, audience: &str) -> Result<Claims, String> {
    verify(
        token,
        ISSUER_PUBLIC,
        &[audience.to_owned()],
        Some(GITHUB_ISSUER),
        None,
    )
}

/// Signs claims with the demo key under this header (e.g. one naming a certificate thumbprint).
#[cfg(test)]
pub(crate) fn sign_for_test_with(claims: &Claims, header: &Header) -> String {
    let key = EncodingKey::from_rsa_pem(ISSUER_KEY.as_bytes()).unwrap();
    jsonwebtoken::encode(header, claims, &key).unwrap()
}

#[cfg(test)]
pub(crate) fn now_for_test() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}
