//! TLS to Postgres, the way libpq does it: the `sslmode` and `sslrootcert`
//! parameters of the connection URL, with rustls (ring provider) instead of
//! OpenSSL.
//!
//! | `sslmode` | encrypted | server certificate checked |
//! | --- | --- | --- |
//! | `disable` | never | - |
//! | `allow` | only if the server refuses a plain session | as `require` |
//! | `prefer` (default) | if the server offers TLS; a failed handshake falls back to plain | as `require` |
//! | `require` | always | nothing, or the chain (as `verify-ca`) when a root file is there |
//! | `verify-ca` | always | the chain up to a root of `sslrootcert` |
//! | `verify-full` | always | the chain, and that it names the host of the URL (DNS name or IP address) |
//!
//! Roots come from `sslrootcert` (a PEM file of one or more certificates),
//! or `~/.postgresql/root.crt` when it is not given (as libpq). The special
//! value `sslrootcert=system` takes the platform's roots (the OpenSSL
//! certificate directory on Linux) and, as in libpq 16, makes `verify-full`
//! the default and any weaker mode an error. Like libpq, `require` and
//! `prefer` check the chain when a root file is there (given or the
//! default one), so they never accept a certificate that file refuses.
//! Stricter than libpq: a given `sslrootcert` that cannot be read is an
//! error for every mode but `disable` (libpq ignores it for `require`).
//!
//! Configuration mistakes (an unknown `sslmode`, a missing root file for a
//! verifying mode, client certificate parameters, which are not supported)
//! are [`ConnectionError::InvalidConnectionUrl`]; the store reports those
//! at start-up instead of retrying. A certificate that fails verification
//! is [`ConnectionError::BadConnection`] with a message that says so. No
//! message repeats the URL, so the password never reaches a log.
//!
//! Everything TLS is in this file: `establish` in `lib.rs` calls [`connect`].

use std::error::Error as StdError;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use std::time::Duration;

use diesel::{ConnectionError, ConnectionResult};
use diesel_async::AsyncPgConnection;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio_postgres::config::SslMode as WireMode;
use tokio_postgres_rustls::MakeRustlsConnect;

/// How long establishing one connection may take before `Unavailable`.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Opens one connection, giving up after [`CONNECT_TIMEOUT`].
pub(crate) async fn establish(url: &str) -> diesel::ConnectionResult<AsyncPgConnection> {
    match tokio::time::timeout(CONNECT_TIMEOUT, connect(url)).await {
        Ok(result) => result,
        Err(_) => Err(diesel::ConnectionError::BadConnection(format!(
            "connecting took more than {} s",
            CONNECT_TIMEOUT.as_secs()
        ))),
    }
}

/// Opens one connection to the Postgres server of `url`, encrypted and
/// verified as its `sslmode` and `sslrootcert` say.
pub(crate) async fn connect(url: &str) -> ConnectionResult<AsyncPgConnection> {
    let settings = Settings::parse(url)?;
    let result = match settings.mode {
        Mode::Disable => plain(&settings.config).await,
        Mode::Allow => match plain(&settings.config).await {
            // The server answered and refused: it may want TLS (hostssl).
            Err(Attempt::Refused(_)) => encrypted(&settings, WireMode::Require).await,
            other => other,
        },
        Mode::Prefer => match encrypted(&settings, WireMode::Prefer).await {
            Err(Attempt::Handshake(_)) => plain(&settings.config).await,
            other => other,
        },
        Mode::Require | Mode::VerifyCa | Mode::VerifyFull => {
            encrypted(&settings, WireMode::Require).await
        }
    };
    result.map_err(|e| settings.error(e))
}

/// A connection attempt that failed, by what the fallbacks need to know.
#[derive(Debug)]
enum Attempt {
    /// The TLS handshake failed (the certificate, or TLS itself).
    Handshake(tokio_postgres::Error),
    /// The server answered with an error (authentication, `pg_hba.conf`).
    Refused(tokio_postgres::Error),
    /// Anything else: unreachable, I/O, a protocol error.
    Other(tokio_postgres::Error),
    /// Already a diesel error (setting the connection up).
    Diesel(ConnectionError),
}

impl From<tokio_postgres::Error> for Attempt {
    fn from(e: tokio_postgres::Error) -> Attempt {
        if rustls_error(&e).is_some() {
            Attempt::Handshake(e)
        } else if e.as_db_error().is_some() {
            Attempt::Refused(e)
        } else {
            Attempt::Other(e)
        }
    }
}

/// A plain (unencrypted) session.
async fn plain(config: &tokio_postgres::Config) -> Result<AsyncPgConnection, Attempt> {
    let mut config = config.clone();
    config.ssl_mode(WireMode::Disable);
    let (client, connection) = config.connect(tokio_postgres::NoTls).await?;
    AsyncPgConnection::try_from_client_and_connection(client, connection)
        .await
        .map_err(Attempt::Diesel)
}

/// A session over TLS (`Prefer`: if the server offers it).
async fn encrypted(settings: &Settings, mode: WireMode) -> Result<AsyncPgConnection, Attempt> {
    let tls = settings.connector().map_err(Attempt::Diesel)?;
    let mut config = settings.config.clone();
    config.ssl_mode(mode);
    let (client, connection) = config.connect(tls).await?;
    AsyncPgConnection::try_from_client_and_connection(client, connection)
        .await
        .map_err(Attempt::Diesel)
}

/// The rustls error behind a failed connection, if TLS failed.
fn rustls_error(e: &tokio_postgres::Error) -> Option<&rustls::Error> {
    let mut next: Option<&(dyn StdError + 'static)> = e.source();
    while let Some(err) = next {
        if let Some(found) = err.downcast_ref::<rustls::Error>() {
            return Some(found);
        }
        // io::Error::source skips the error it wraps: look inside it.
        if let Some(found) = err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            return Some(found);
        }
        next = err.source();
    }
    None
}

/// `e` and its causes, joined: tokio-postgres shows only its own kind
/// ("db error"), and the server's words are in the cause.
fn chain(e: &tokio_postgres::Error) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(err) = next {
        out.push_str(": ");
        out.push_str(&err.to_string());
        next = err.source();
    }
    out
}

/// What was wrong with the server's certificate, in words.
fn describe(e: &CertificateError) -> String {
    match e {
        CertificateError::UnknownIssuer => {
            "its certificate is not signed by a trusted root (UnknownIssuer)".to_owned()
        }
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            format!("its certificate does not name the host of the URL ({e:?})")
        }
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
            format!("its certificate has expired ({e:?})")
        }
        other => format!("invalid certificate: {other:?}"),
    }
}

/// libpq's `sslmode` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Disable,
    Allow,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl Mode {
    fn parse(value: &str) -> Option<Mode> {
        Some(match value {
            "disable" => Mode::Disable,
            "allow" => Mode::Allow,
            "prefer" => Mode::Prefer,
            "require" => Mode::Require,
            "verify-ca" => Mode::VerifyCa,
            "verify-full" => Mode::VerifyFull,
            _ => return None,
        })
    }

    fn verifies(self) -> bool {
        matches!(self, Mode::VerifyCa | Mode::VerifyFull)
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Disable => "disable",
            Mode::Allow => "allow",
            Mode::Prefer => "prefer",
            Mode::Require => "require",
            Mode::VerifyCa => "verify-ca",
            Mode::VerifyFull => "verify-full",
        })
    }
}

/// Where trusted roots come from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Roots {
    /// A PEM file named by `sslrootcert`.
    File(PathBuf),
    /// `sslrootcert=system`: the platform's roots.
    System,
    /// Not given: `~/.postgresql/root.crt` if it exists.
    Default(Option<PathBuf>),
}

/// The connection URL, understood.
struct Settings {
    mode: Mode,
    roots: Roots,
    /// The URL without the parameters tokio-postgres does not know.
    config: tokio_postgres::Config,
}

fn invalid(message: impl Into<String>) -> ConnectionError {
    ConnectionError::InvalidConnectionUrl(message.into())
}

impl Settings {
    fn parse(url: &str) -> ConnectionResult<Settings> {
        let Some((base, query)) = url.split_once('?') else {
            return Settings::build(url, None, None);
        };
        if !base.contains("://") {
            return Err(invalid(
                "the postgres connection string must be a postgres:// URL",
            ));
        }
        let mut mode = None;
        let mut root = None;
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match key {
                "sslmode" => mode = Some(decode(value)?),
                "sslrootcert" => root = Some(decode(value)?),
                "sslcert" | "sslkey" | "sslpassword" | "sslcrl" | "sslcrldir" => {
                    return Err(invalid(format!(
                        "`{key}` in the postgres URL is not supported (no client \
                         certificates or revocation lists); remove it"
                    )));
                }
                _ => kept.push(pair),
            }
        }
        let stripped = if kept.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        Settings::build(&stripped, mode, root)
    }

    fn build(url: &str, mode: Option<String>, root: Option<String>) -> ConnectionResult<Settings> {
        if !url.contains("://") {
            return Err(invalid(
                "the postgres connection string must be a postgres:// URL",
            ));
        }
        let roots = match root.as_deref() {
            Some("system") => Roots::System,
            Some("") | None => Roots::Default(default_root()),
            Some(path) => Roots::File(PathBuf::from(path)),
        };
        let mode = match mode.as_deref() {
            Some(value) => Mode::parse(value).ok_or_else(|| {
                invalid(format!(
                    "unknown sslmode `{value}` in the postgres URL: use disable, allow, \
                     prefer, require, verify-ca or verify-full"
                ))
            })?,
            None if roots == Roots::System => Mode::VerifyFull,
            None => Mode::Prefer,
        };
        if roots == Roots::System && mode != Mode::VerifyFull {
            return Err(invalid(format!(
                "sslrootcert=system needs sslmode=verify-full (got sslmode={mode})"
            )));
        }
        if mode.verifies() && matches!(roots, Roots::Default(None)) {
            return Err(invalid(format!(
                "sslmode={mode} needs trusted roots: set sslrootcert to a PEM file of the \
                 server's CA (or `system` for the platform's roots); \
                 ~/.postgresql/root.crt does not exist"
            )));
        }
        let config = url
            .parse::<tokio_postgres::Config>()
            .map_err(|e| invalid(format!("invalid postgres URL: {e}")))?;
        let settings = Settings {
            mode,
            roots,
            config,
        };
        if mode != Mode::Disable {
            // Reads the roots now, so a bad file is a configuration error.
            settings.root_store()?;
        }
        Ok(settings)
    }

    /// A failed attempt in words.
    fn error(&self, e: Attempt) -> ConnectionError {
        match e {
            Attempt::Handshake(e) => match rustls_error(&e) {
                Some(rustls::Error::InvalidCertificate(cert)) => {
                    ConnectionError::BadConnection(format!(
                        "TLS verification of the postgres server failed (sslmode={}, {}): {}",
                        self.mode,
                        self.checked(),
                        describe(cert),
                    ))
                }
                _ => ConnectionError::BadConnection(format!(
                    "TLS with the postgres server failed (sslmode={}): {}",
                    self.mode,
                    chain(&e)
                )),
            },
            Attempt::Refused(e) | Attempt::Other(e) => ConnectionError::BadConnection(chain(&e)),
            Attempt::Diesel(e) => e,
        }
    }

    /// What the certificate was checked against, for error messages.
    fn checked(&self) -> String {
        match &self.roots {
            Roots::File(path) | Roots::Default(Some(path)) => {
                format!("roots from {}", path.display())
            }
            Roots::System => "the system's roots".to_owned(),
            Roots::Default(None) => "no roots".to_owned(),
        }
    }

    /// The trusted roots, if any apply.
    fn root_store(&self) -> ConnectionResult<Option<RootCertStore>> {
        match &self.roots {
            Roots::File(path) | Roots::Default(Some(path)) => read_roots(path).map(Some),
            Roots::System => {
                let found = rustls_native_certs::load_native_certs();
                let mut roots = RootCertStore::empty();
                roots.add_parsable_certificates(found.certs);
                if roots.is_empty() {
                    return Err(invalid(format!(
                        "sslrootcert=system: no root certificates found on this system ({} errors)",
                        found.errors.len()
                    )));
                }
                Ok(Some(roots))
            }
            Roots::Default(None) => Ok(None),
        }
    }

    /// A TLS connector that checks what the mode asks for.
    fn connector(&self) -> ConnectionResult<MakeRustlsConnect> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let check = match self.root_store()? {
            None => Check::Nothing,
            Some(roots) => {
                let webpki =
                    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                        .build()
                        .map_err(|e| invalid(format!("sslrootcert: {e}")))?;
                if self.mode == Mode::VerifyFull {
                    Check::ChainAndName(webpki)
                } else {
                    // verify-ca, and require / prefer / allow with a root file.
                    Check::Chain(webpki)
                }
            }
        };
        let verifier = Arc::new(Verifier {
            check,
            provider: provider.clone(),
        });
        let mut config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| invalid(format!("TLS set-up: {e}")))?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        // As libpq 17; `sslnegotiation=direct` needs it.
        config.alpn_protocols = vec![b"postgresql".to_vec()];
        Ok(MakeRustlsConnect::new(config))
    }
}

/// `~/.postgresql/root.crt`, if it exists (libpq's default `sslrootcert`).
fn default_root() -> Option<PathBuf> {
    let home = std::env::var_os("HOME").filter(|h| !h.is_empty())?;
    let path = Path::new(&home).join(".postgresql").join("root.crt");
    path.is_file().then_some(path)
}

/// The certificates of a PEM file.
fn read_roots(path: &Path) -> ConnectionResult<RootCertStore> {
    let shown = path.display();
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| invalid(format!("cannot read sslrootcert {shown}: {e}")))?;
    let mut roots = RootCertStore::empty();
    for cert in certs {
        let cert = cert.map_err(|e| invalid(format!("sslrootcert {shown}: {e}")))?;
        roots
            .add(cert)
            .map_err(|e| invalid(format!("sslrootcert {shown}: {e}")))?;
    }
    if roots.is_empty() {
        return Err(invalid(format!(
            "sslrootcert {shown} holds no PEM certificate"
        )));
    }
    Ok(roots)
}

/// Percent-decodes a URL query value.
fn decode(value: &str) -> ConnectionResult<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| invalid("bad percent-encoding in the postgres URL"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| invalid("a postgres URL parameter is not UTF-8"))
}

/// What the server's certificate is checked for.
#[derive(Debug)]
enum Check {
    /// Nothing (`require` without roots): encrypted, not authenticated.
    Nothing,
    /// The chain up to a trusted root, whatever name it carries.
    Chain(Arc<WebPkiServerVerifier>),
    /// The chain, and the host name (or IP address) of the URL.
    ChainAndName(Arc<WebPkiServerVerifier>),
}

#[derive(Debug)]
struct Verifier {
    check: Check,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match &self.check {
            Check::Nothing => Ok(ServerCertVerified::assertion()),
            Check::ChainAndName(webpki) => webpki.verify_server_cert(
                end_entity,
                intermediates,
                server_name,
                ocsp_response,
                now,
            ),
            // webpki checks the chain first and the name last: a name
            // mismatch means the chain was good.
            Check::Chain(webpki) => match webpki.verify_server_cert(
                end_entity,
                intermediates,
                server_name,
                ocsp_response,
                now,
            ) {
                Err(rustls::Error::InvalidCertificate(
                    CertificateError::NotValidForName
                    | CertificateError::NotValidForNameContext { .. },
                )) => Ok(ServerCertVerified::assertion()),
                other => other,
            },
        }
    }

    // The handshake signatures are always checked: they prove the server
    // holds the key of the certificate it sent.
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_of(url: &str) -> String {
        match Settings::parse(url) {
            Err(ConnectionError::InvalidConnectionUrl(m)) => m,
            Err(other) => panic!("not a configuration error: {other}"),
            Ok(_) => panic!("accepted: {url}"),
        }
    }

    #[test]
    fn modes_parse_and_ssl_parameters_are_taken_out() {
        let s =
            Settings::parse("postgres://u:p@h:5/db?sslmode=disable&application_name=x").unwrap();
        assert_eq!(s.mode, Mode::Disable);
        assert_eq!(s.config.get_application_name(), Some("x"));
        let s = Settings::parse("postgres://u:p@h/db").unwrap();
        assert_eq!(s.mode, Mode::Prefer);
        let s = Settings::parse("postgres://u:p@h/db?sslmode=require").unwrap();
        assert_eq!(s.mode, Mode::Require);
    }

    #[test]
    fn configuration_mistakes_are_clear_and_never_show_the_password() {
        let m = error_of("postgres://u:secret@h/db?sslmode=verify-everything");
        assert!(m.contains("unknown sslmode `verify-everything`"), "{m}");
        assert!(!m.contains("secret"), "{m}");
        let m =
            error_of("postgres://u:secret@h/db?sslmode=require&sslrootcert=/nonexistent/ca.pem");
        assert!(
            m.contains("cannot read sslrootcert /nonexistent/ca.pem"),
            "{m}"
        );
        let m = error_of("postgres://u:secret@h/db?sslmode=require&sslrootcert=system");
        assert!(m.contains("needs sslmode=verify-full"), "{m}");
        let m = error_of("postgres://u:secret@h/db?sslcert=/c.pem");
        assert!(m.contains("`sslcert`"), "{m}");
        let m = error_of("postgres://u:secret@h/db?sslmode=verify-full&sslrootcert=%2Fno%20such");
        assert!(m.contains("/no such"), "{m}");
        assert!(!m.contains("secret"), "{m}");
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(decode("a%2Fb%20c").unwrap(), "a/b c");
        assert!(decode("a%2").is_err());
    }
}
