//! The publish form's upload (`POST /admin/releases`, `multipart/form-data`): its fields read
//! one by one as they arrive, its files streamed to a temporary directory under the portal's
//! scratch space, a bounded buffer at a time, never held in memory. The form carries its CSRF
//! token first, so a request without the session's token is refused before a byte of any file
//! is read, and only then may its body take longer to arrive than any other request's; a file
//! name is checked before its file is created, so a name cannot point outside the directory.
//! The directory is removed on every path: by the publication once it ran
//! ([`Upload::into_publication`]), by [`Upload::remove`] when there is none, by [`receive`]
//! when it refuses, by its drop when the request is dropped before.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use axum::extract::multipart::{Field, Multipart, MultipartError};
use axum::http::StatusCode;
use genesis_portal_client::protocol::valid_artifact_name;
use genesis_registry::serve::BodyDeadline;
use genesis_trust::PublicKey;
use tempfile::TempDir;

use super::page::{PageError, Site};
use super::session::check_csrf;
use crate::error::PortalServerError;
use crate::publish::{OwnedPublication, remove_uploaded};

/// The largest upload: a release's bundles with their sidecars (`DefaultBodyLimit` of the
/// publish route).
pub(crate) const UPLOAD_LIMIT: usize = 64 * 1024 * 1024 * 1024;

/// How long a signed-in vendor's upload may take to arrive, instead of the server's 30 s for
/// any request body: 64 GiB at 12 Mbit/s.
const UPLOAD_TIME: std::time::Duration = std::time::Duration::from_secs(12 * 3600);

/// The largest text field (`csrf`, `product`, `version`): the body may be 64 GiB, a text
/// field is read whole.
const TEXT_LIMIT: usize = 1024;

/// Bytes gathered from the request before they are written out on a blocking thread: the
/// memory an upload holds, plus one chunk of the body.
const WRITE_BUFFER: usize = 1024 * 1024;

/// The form's fields, and its files in a temporary directory of their own.
pub(crate) struct Upload {
    /// The `product` field.
    pub(crate) product: String,
    /// The `version` field.
    pub(crate) version: String,
    /// The files, in the order sent, all in [`Upload::dir`] under the names the browser gave.
    pub(crate) files: Vec<PathBuf>,
    dir: TempDir,
}

impl Upload {
    /// The directory holding the files.
    pub(crate) fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Removes the files, on a blocking thread: they can be gigabytes.
    pub(crate) async fn remove(self) {
        remove_uploaded(self.dir).await;
    }

    /// The publication of the upload's files as `product` `version`, verified against `key`;
    /// it owns their directory, which it removes once it has run.
    pub(crate) fn into_publication(self, key: PublicKey) -> OwnedPublication {
        OwnedPublication { product: self.product, version: self.version, files: self.files, key, uploaded: self.dir }
    }
}

/// Why an upload was not received.
pub(crate) enum UploadError {
    /// Not a request of the publish form: no or a wrong CSRF token, a field the form does not
    /// have, a body that is not multipart or was cut short; or the portal failed to write.
    Request(PageError),
    /// What the vendor sent cannot be published (a file name, a file given twice): said on the
    /// releases page as `publish_into`'s refusals are.
    Refused(PortalServerError),
}

impl From<PageError> for UploadError {
    fn from(e: PageError) -> UploadError {
        UploadError::Request(e)
    }
}

/// Reads the publish form from `multipart`: `csrf` first (checked against `session_csrf` and
/// the request's `site` before anything else is read; once it holds, the body's `deadline`,
/// when the server set one, is extended to [`UPLOAD_TIME`] or to the `session_left`, whichever
/// is shorter: an upload that outlasted its session could not be published), then `product`,
/// `version` and the
/// `files`, each written under `scratch` as it arrives.
pub(crate) async fn receive(
    mut multipart: Multipart,
    session_csrf: &str,
    site: &Site,
    deadline: Option<&BodyDeadline>,
    session_left: std::time::Duration,
    scratch: &Path,
) -> Result<Upload, UploadError> {
    let given = match multipart.next_field().await.map_err(unreadable)? {
        Some(mut field) if field.name() == Some("csrf") => text(&mut field).await?,
        _ => {
            let missing = "the form's CSRF token is missing: reload the releases page and publish again";
            return Err(PageError::new(StatusCode::FORBIDDEN, missing).into());
        }
    };
    check_csrf(session_csrf, &given, site)?;
    // A signed-in vendor's release takes longer to arrive than any other request body may.
    if let Some(deadline) = deadline {
        deadline.extend(UPLOAD_TIME.min(session_left));
    }
    let dir = temporary_dir(scratch).await?;
    match fields(&mut multipart, dir.path()).await {
        Ok((product, version, files)) => Ok(Upload { product, version, files, dir }),
        Err(e) => {
            remove_uploaded(dir).await;
            Err(e)
        }
    }
}

/// The fields after `csrf`: the product, the version and the files written into `dir`.
async fn fields(multipart: &mut Multipart, dir: &Path) -> Result<(String, String, Vec<PathBuf>), UploadError> {
    let (mut product, mut version) = (String::new(), String::new());
    let mut files = Vec::new();
    let mut names = BTreeSet::new();
    while let Some(mut field) = multipart.next_field().await.map_err(unreadable)? {
        match field.name().unwrap_or_default() {
            // Checked as they arrive, so a mistyped name is refused before gigabytes follow.
            "product" => {
                product = text(&mut field).await?;
                crate::admin::check_product_name(&product).map_err(UploadError::Refused)?;
            }
            "version" => {
                version = text(&mut field).await?;
                semver::Version::parse(&version).map_err(|source| {
                    UploadError::Refused(PortalServerError::NotSemver { version: version.clone(), source })
                })?;
            }
            "files" => {
                let name = match field.file_name() {
                    // The file input left empty: browsers send a part without a file.
                    Some("") => continue,
                    Some(name) => name.to_owned(),
                    None => return Err(bad_request("a `files` part without a file name: send files, not text").into()),
                };
                if !valid_artifact_name(&name) {
                    return Err(UploadError::Refused(PortalServerError::UnpublishableName { path: name.into() }));
                }
                if !names.insert(name.clone()) {
                    return Err(UploadError::Refused(PortalServerError::GivenTwice { name }));
                }
                let path = dir.join(&name);
                write(&mut field, &path).await?;
                files.push(path);
            }
            other => {
                return Err(bad_request(format!("the publish form has no field `{other}`")).into());
            }
        }
    }
    for (value, field, example) in [(&product, "product", "genesis"), (&version, "version", "3.2.10")] {
        if value.is_empty() {
            let message = format!("the form's `{field}` is empty: name the {field} to publish (e.g. {example})");
            return Err(PageError::new(StatusCode::UNPROCESSABLE_ENTITY, message).into());
        }
    }
    Ok((product, version, files))
}

/// A text field, trimmed; refused past [`TEXT_LIMIT`] bytes, read no further.
async fn text(field: &mut Field<'_>) -> Result<String, UploadError> {
    let name = field.name().unwrap_or_default().to_owned();
    let mut bytes = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(unreadable)? {
        if bytes.len() + chunk.len() > TEXT_LIMIT {
            return Err(bad_request(format!("the form's `{name}` is longer than {TEXT_LIMIT} bytes")).into());
        }
        bytes.extend_from_slice(&chunk);
    }
    let text = String::from_utf8(bytes).map_err(|_| bad_request(format!("the form's `{name}` is not UTF-8")))?;
    Ok(text.trim().to_owned())
}

/// Streams a file part into a new file at `path`, [`WRITE_BUFFER`] bytes at a time.
async fn write(field: &mut Field<'_>, path: &Path) -> Result<(), UploadError> {
    let created = path.to_owned();
    // `create_new`: a name met twice is refused above; nothing is ever overwritten.
    let mut file =
        blocking(move || std::fs::File::create_new(&created).map_err(PortalServerError::io("creating", &created)))
            .await?;
    let mut buffer = Vec::with_capacity(WRITE_BUFFER);
    while let Some(chunk) = field.chunk().await.map_err(unreadable)? {
        buffer.extend_from_slice(&chunk);
        if buffer.len() >= WRITE_BUFFER {
            (file, buffer) = write_out(file, buffer, path).await?;
        }
    }
    write_out(file, buffer, path).await?;
    Ok(())
}

/// Writes `buffer` to `file` on a blocking thread; both back, the buffer emptied.
async fn write_out(
    mut file: std::fs::File,
    mut buffer: Vec<u8>,
    path: &Path,
) -> Result<(std::fs::File, Vec<u8>), UploadError> {
    let path = path.to_owned();
    let written = blocking(move || {
        file.write_all(&buffer).map_err(PortalServerError::io("writing", &path))?;
        buffer.clear();
        Ok((file, buffer))
    });
    written.await.map_err(UploadError::Request)
}

/// A new directory for one upload under `scratch` (created when absent).
async fn temporary_dir(scratch: &Path) -> Result<TempDir, UploadError> {
    let scratch = scratch.to_owned();
    let dir = blocking(move || {
        std::fs::create_dir_all(&scratch).map_err(PortalServerError::io("creating", &scratch))?;
        tempfile::Builder::new()
            .prefix("upload-")
            .tempdir_in(&scratch)
            .map_err(PortalServerError::io("creating an upload's directory in", &scratch))
    });
    dir.await.map_err(UploadError::Request)
}

/// Runs file-system work on the blocking pool, off the threads that serve requests. A
/// failure there is the portal's own: logged, "internal error" to the vendor.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> crate::Result<T> + Send + 'static) -> Result<T, PageError> {
    let done = tokio::task::spawn_blocking(work)
        .await
        .map_err(|source| PortalServerError::Panicked { action: "receiving an upload", source });
    done.and_then(|result| result).map_err(PageError::from)
}

/// A body that is not the publish form's multipart, or that broke off (the client went away,
/// the upload passed [`UPLOAD_LIMIT`]).
fn unreadable(e: MultipartError) -> PageError {
    PageError::new(e.status(), format!("the upload could not be read: {}", e.body_text()))
}

fn bad_request(message: impl Into<String>) -> PageError {
    PageError::new(StatusCode::BAD_REQUEST, message)
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::path::Path;
    use std::time::Duration;

    use axum::body::{Body, Bytes};
    use axum::extract::FromRequest as _;
    use axum::extract::Multipart;
    use axum::http::{Request, StatusCode, header};
    use futures_util::StreamExt as _;

    use super::{Upload, UploadError, receive};
    use crate::error::PortalServerError;
    use crate::web::page::Site;

    const TOKEN: &str = "0123456789abcdef";

    /// A multipart part: a text field, or a file field when `file` names one.
    fn part(name: &str, file: Option<&str>, content: &str) -> String {
        let file = file.map(|f| format!("; filename=\"{f}\"")).unwrap_or_default();
        format!("--B\r\nContent-Disposition: form-data; name=\"{name}\"{file}\r\n\r\n{content}\r\n")
    }

    /// `head` as the start of a body. Unless `ends`, the body then waits forever: an answer
    /// that comes was given without reading past `head`.
    fn receive_body(head: String, ends: bool, scratch: &Path) -> Result<Upload, UploadError> {
        let sent = futures_util::stream::iter([Ok::<_, io::Error>(Bytes::from(head))]);
        let body = if ends {
            Body::from_stream(sent.chain(futures_util::stream::iter([Ok(Bytes::from_static(b"--B--\r\n"))])))
        } else {
            Body::from_stream(sent.chain(futures_util::stream::pending()))
        };
        let request = Request::builder()
            .method("POST")
            .header(header::CONTENT_TYPE, "multipart/form-data; boundary=B")
            .body(body)
            .unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        runtime.block_on(async {
            let multipart = Multipart::from_request(request, &()).await.unwrap();
            let site = Site::new(None, false, Some("portal.example".to_owned()), None);
            let received = receive(multipart, TOKEN, &site, None, Duration::MAX, scratch);
            tokio::time::timeout(Duration::from_secs(10), received)
                .await
                .expect("the upload was read past what was sent")
        })
    }

    fn entries(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect()
    }

    #[test]
    fn an_upload_without_the_session_s_csrf_token_first_is_refused_before_a_file_is_read() {
        let scratch = tempfile::tempdir().unwrap();
        let file = part("files", Some("demo-0.1.0.tar.zst"), "bundle bytes");
        for head in [
            file.clone(),
            format!("{}{file}", part("product", None, "genesis")),
            format!("{}{file}", part("csrf", None, "not-the-token")),
            format!("{}{}", part("csrf", None, ""), file),
        ] {
            match receive_body(head.clone(), false, scratch.path()) {
                Err(UploadError::Request(e)) => assert_eq!(e.status, StatusCode::FORBIDDEN, "{head}: {}", e.message),
                Err(UploadError::Refused(e)) => panic!("{head}: refused as a publication: {e}"),
                Ok(_) => panic!("{head}: received"),
            }
            assert!(entries(scratch.path()).is_empty(), "{head}: {:?}", entries(scratch.path()));
        }
    }

    #[test]
    fn a_file_name_with_a_path_is_refused_before_its_file_is_written() {
        let root = tempfile::tempdir().unwrap();
        let scratch = root.path().join("scratch");
        for name in ["../escape.tar.zst", "sub/demo.tar.zst", "/tmp/demo.tar.zst", "..\\demo.tar.zst", ".hidden", ".."]
        {
            let head = format!("{}{}", part("csrf", None, TOKEN), part("files", Some(name), "bundle bytes"));
            match receive_body(head, false, &scratch) {
                Err(UploadError::Refused(PortalServerError::UnpublishableName { path })) => {
                    assert_eq!(path, Path::new(name));
                }
                Err(UploadError::Refused(e)) => panic!("{name}: {e}"),
                Err(UploadError::Request(e)) => panic!("{name}: {} {}", e.status, e.message),
                Ok(_) => panic!("{name}: received"),
            }
            assert!(entries(&scratch).is_empty(), "{name}: {:?}", entries(&scratch));
            assert_eq!(entries(root.path()), ["scratch"], "{name}");
        }
    }

    #[test]
    fn a_file_given_twice_is_refused_and_what_was_written_is_removed() {
        let scratch = tempfile::tempdir().unwrap();
        let head = format!(
            "{}{}{}",
            part("csrf", None, TOKEN),
            part("files", Some("demo-0.1.0.tar.zst"), "first"),
            part("files", Some("demo-0.1.0.tar.zst"), "second"),
        );
        match receive_body(head, false, scratch.path()) {
            Err(UploadError::Refused(PortalServerError::GivenTwice { name })) => assert_eq!(name, "demo-0.1.0.tar.zst"),
            _ => panic!("not refused as given twice"),
        }
        assert!(entries(scratch.path()).is_empty(), "{:?}", entries(scratch.path()));
    }

    #[test]
    fn the_form_s_files_land_in_a_directory_of_their_own_which_remove_empties() {
        let scratch = tempfile::tempdir().unwrap();
        // Past one write buffer, within the 2 MiB that `Multipart::from_request` takes without the route's limit.
        let big = "x".repeat(super::WRITE_BUFFER + 17);
        let head = format!(
            "{}{}{}{}{}{}",
            part("csrf", None, TOKEN),
            part("product", None, "genesis"),
            part("version", None, " 0.1.0 "),
            part("files", Some(""), ""),
            part("files", Some("demo-0.1.0.tar.zst"), &big),
            part("files", Some("demo-0.1.0.tar.zst.sha256"), "digest  demo-0.1.0.tar.zst\n"),
        );
        let upload = match receive_body(head, true, scratch.path()) {
            Ok(upload) => upload,
            Err(UploadError::Refused(e)) => panic!("refused: {e}"),
            Err(UploadError::Request(e)) => panic!("not received: {} {}", e.status, e.message),
        };
        assert_eq!((upload.product.as_str(), upload.version.as_str()), ("genesis", "0.1.0"));
        let names: Vec<_> = upload.files.iter().map(|f| f.strip_prefix(upload.dir()).unwrap().to_owned()).collect();
        assert_eq!(names, [Path::new("demo-0.1.0.tar.zst"), Path::new("demo-0.1.0.tar.zst.sha256")]);
        assert_eq!(std::fs::read_to_string(&upload.files[0]).unwrap(), big);
        assert!(upload.dir().starts_with(scratch.path()));
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        runtime.block_on(upload.remove());
        assert!(entries(scratch.path()).is_empty(), "{:?}", entries(scratch.path()));
    }
}
