//! Bundles into `--bundles-dir` from the browser (`create bundles`): a resumable upload in
//! pieces, for a bundle of gigabytes over a `kubectl port-forward` that drops, and a plain
//! multipart form for a browser without JavaScript.
//!
//! The resumable protocol is tus's core in miniature. `POST /uploads` (`{name, size}` as JSON
//! or a form, the session's CSRF token in `X-CSRF-Token` or the `csrf` field) answers
//! `{id}`; `HEAD /uploads/{id}` answers `Upload-Offset`, the bytes the console holds; `PATCH
//! /uploads/{id}` with `Upload-Offset: N` and at most [`CHUNK_LIMIT`] bytes appends them when
//! `N` is that offset (else 409 with the offset in `Upload-Offset`). What a PATCH cut off
//! mid-body brought is kept, synced and counted, so a client asks `HEAD` where to go on from
//! and never sends a byte twice. Once `size` bytes are there, the file is linked into the
//! bundles directory under its name — never over an existing file — and its verification
//! starts ([`crate::bundles`]).
//!
//! A partial upload is `bundles-dir/.uploads/ID.part` beside `ID.json` (name, size, the
//! offset last synced, who, when): it survives a restart of the console, and one untouched
//! for [`ABANDONED_AFTER`] is removed. Only its uploader may continue it. Names are one path
//! segment, an archive's (`*.tar.zst`) or a sidecar's, checked before anything is written.
//!
//! A request body must arrive within the server's 30 s (`ServerLimits::body_read_timeout`);
//! a piece, or the form, is given longer ([`CHUNK_TIME`], [`FORM_TIME`]) only once its
//! session, its CSRF token and its user's right checked out, so nobody else can hold a
//! connection open that long.

use std::collections::HashMap;
use std::fmt::Display;
use std::fs::File;
use std::io::{Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::multipart::{Multipart, MultipartError};
use axum::extract::{DefaultBodyLimit, Extension, FromRequest as _, Path as UrlPath, Request, State};
use axum::http::{HeaderMap, HeaderName, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{head, post};
use axum::{Form, Json};
use futures_util::{Stream, StreamExt as _};
use genesis_registry::serve::BodyDeadline;
use genesis_web::html::segment;
use genesis_web::secret;

use crate::auth::{Signed, console_access};
use crate::bundles::{archive_of_sidecar, is_archive_name};
use crate::page::{PageError, see_other};
use crate::state::{AppState, Shared};

/// The most bytes one PATCH may carry: the page's script sends 8 MiB.
pub(crate) const CHUNK_LIMIT: u64 = 16 * 1024 * 1024;

/// How long one piece may take to arrive once its request checked out: 16 MiB at about
/// 220 kbit/s, a port-forward at its worst.
const CHUNK_TIME: Duration = Duration::from_secs(600);

/// The largest bundle an upload may announce.
const SIZE_LIMIT: u64 = 64 * 1024 * 1024 * 1024;

/// The largest body of the form without JavaScript (`DefaultBodyLimit` of its route): a
/// bigger bundle goes in pieces, or straight into the volume.
const FORM_LIMIT: usize = 1024 * 1024 * 1024;

/// How long the form's body may take to arrive once its CSRF token checked out: 1 GiB at
/// about 2.4 Mbit/s.
const FORM_TIME: Duration = Duration::from_secs(3600);

/// A partial upload untouched this long (seconds) is removed.
const ABANDONED_AFTER: u64 = 24 * 3600;

/// Bytes gathered from a body before they are written out on a blocking thread.
const WRITE_BUFFER: usize = 1024 * 1024;

/// The longest text field of the form (`csrf`): the body may be a gigabyte, a token is read whole.
const TEXT_LIMIT: usize = 256;

/// Where partial uploads live, inside the bundles directory (hidden: never a bundle's name).
const UPLOADS_DIR: &str = ".uploads";

/// tus's header for the bytes held, or where a piece starts.
const UPLOAD_OFFSET: HeaderName = HeaderName::from_static("upload-offset");
/// tus's header for the size announced.
const UPLOAD_LENGTH: HeaderName = HeaderName::from_static("upload-length");
/// The header carrying the session's CSRF token on the script's requests.
const CSRF_HEADER: &str = "x-csrf-token";

/// `POST /uploads`, `HEAD` and `PATCH /uploads/{id}`, and the form's `POST /uploads/form`.
pub(crate) fn routes() -> Router<Shared> {
    Router::new()
        .route("/uploads", post(create))
        .route("/uploads/form", post(form).layer(DefaultBodyLimit::max(FORM_LIMIT)))
        .route("/uploads/{id}", head(offset).patch(append))
}

/// The partial uploads of one bundles directory, and a lock per upload so that its pieces
/// are written one at a time.
pub(crate) struct Uploads {
    /// The bundles directory.
    dir: PathBuf,
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// What `ID.json` records of a partial upload.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct UploadState {
    /// The file name it gets in the bundles directory.
    pub(crate) name: String,
    /// The size announced.
    pub(crate) size: u64,
    /// The bytes of `ID.part` synced to disk: what `HEAD` says and a PATCH must start at.
    pub(crate) offset: u64,
    /// Who started it (the user name the TokenReview gave): nobody else may continue it.
    user: String,
    /// When a piece last arrived (seconds since the Unix epoch).
    updated: u64,
}

/// Why an upload request was not taken.
#[derive(Debug)]
pub(crate) enum UploadError {
    /// No upload of this id by this user (finished, abandoned, or someone else's).
    NotFound,
    /// A piece that does not start where the upload is.
    Conflict {
        /// Where it is.
        offset: u64,
    },
    /// The bundles directory already has a file of the name.
    Exists {
        /// The name.
        name: String,
    },
    /// The request is not one of the protocol's (a name, a size, a header): what is wrong.
    BadRequest(String),
    /// More bytes than a piece may carry, or than the upload has left.
    TooLarge(String),
    /// The body broke off: what arrived before was kept.
    BrokeOff {
        /// Where the upload now is.
        offset: u64,
        /// What the connection said.
        reason: String,
    },
    /// The console could not write or read its files.
    Io {
        /// What it was doing, on which file.
        what: String,
        /// Why.
        source: std::io::Error,
    },
}

fn io_error(what: impl Display, path: &Path) -> impl FnOnce(std::io::Error) -> UploadError {
    let what = format!("{what} {}", path.display());
    move |source| UploadError::Io { what, source }
}

impl IntoResponse for UploadError {
    fn into_response(self) -> Response {
        let offset_reply = |status: StatusCode, offset: u64, text: String| {
            (status, [(UPLOAD_OFFSET, offset.to_string()), (header::CACHE_CONTROL, "no-store".to_owned())], text)
                .into_response()
        };
        match self {
            UploadError::NotFound => PageError::not_found(
                "no such upload of yours: it finished, was abandoned for a day, or another user started it; start \
                 the upload again",
            )
            .into_response(),
            UploadError::Conflict { offset } => offset_reply(
                StatusCode::CONFLICT,
                offset,
                format!("the upload holds {offset} bytes: send the piece that starts there\n"),
            ),
            UploadError::Exists { name } => PageError::new(
                StatusCode::CONFLICT,
                format!("{name} is already in the bundles directory"),
                "remove it from the volume first, or upload the bundle under another name",
            )
            .into_response(),
            UploadError::BadRequest(what) => PageError::bad_request(what).into_response(),
            UploadError::TooLarge(what) => {
                PageError::new(StatusCode::PAYLOAD_TOO_LARGE, what, "send smaller pieces").into_response()
            }
            UploadError::BrokeOff { offset, reason } => offset_reply(
                StatusCode::BAD_REQUEST,
                offset,
                format!("the piece broke off ({reason}); the upload holds {offset} bytes: go on from there\n"),
            ),
            UploadError::Io { what, source } => {
                tracing::error!(%what, error = %source, "upload");
                PageError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("the console could not {what}: {source}"),
                    "check the bundles volume (free space, permissions), then resume the upload",
                )
                .into_response()
            }
        }
    }
}

/// What an upload may be named: an archive's name or a sidecar's, one path segment.
pub(crate) fn check_name(name: &str) -> Result<(), UploadError> {
    if is_archive_name(name) || archive_of_sidecar(name).is_some() {
        return Ok(());
    }
    Err(UploadError::BadRequest(format!(
        "{:?} is not the name of a bundle archive (NAME-VERSION.tar.zst) or of one of its sidecars (.sha256, .sig, \
         .cosign.bundle): upload those files under their own names, without a folder",
        genesis_bundle::escape_controls(name)
    )))
}

impl Uploads {
    /// The uploads into `dir`, the bundles directory.
    pub(crate) fn new(dir: &Path) -> Uploads {
        Uploads { dir: dir.to_owned(), locks: Mutex::default() }
    }

    fn uploads_dir(&self) -> PathBuf {
        self.dir.join(UPLOADS_DIR)
    }

    fn part(&self, id: &str) -> PathBuf {
        self.uploads_dir().join(format!("{id}.part"))
    }

    fn state_file(&self, id: &str) -> PathBuf {
        self.uploads_dir().join(format!("{id}.json"))
    }

    /// The lock of upload `id`, made when there is none: only for an id that is a token, so
    /// the map holds no more entries than uploads that were asked about (and
    /// [`Uploads::forget_unused`] drops those that are none).
    fn lock(&self, id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(locks.entry(id.to_owned()).or_default())
    }

    fn forget(&self, id: &str) {
        self.locks.lock().unwrap_or_else(PoisonError::into_inner).remove(id);
    }

    /// Drops the lock of `id`, which is no upload of the asker's, unless someone else holds or
    /// waits for it (`held`, the caller's, is the other reference besides the map's): an id
    /// made up, guessed or of another user leaves nothing behind.
    fn forget_unused(&self, id: &str, held: &Arc<tokio::sync::Mutex<()>>) {
        let mut locks = self.locks.lock().unwrap_or_else(PoisonError::into_inner);
        if locks.get(id).is_some_and(|lock| Arc::ptr_eq(lock, held) && Arc::strong_count(lock) <= 2) {
            locks.remove(id);
        }
    }

    /// Starts an upload of `size` bytes to be named `name` (checked) for `user`: an empty
    /// `ID.part` and its state. Refused when the bundles directory has the name already.
    pub(crate) async fn create(&self, name: &str, size: u64, user: &str) -> Result<String, UploadError> {
        check_name(name)?;
        if size == 0 || size > SIZE_LIMIT {
            return Err(UploadError::BadRequest(format!(
                "an upload's size must be between 1 byte and {SIZE_LIMIT} bytes, not {size}"
            )));
        }
        let id = secret::random_token();
        let state = UploadState { name: name.to_owned(), size, offset: 0, user: user.to_owned(), updated: now() };
        let (dir, part, state_file) = (self.uploads_dir(), self.part(&id), self.state_file(&id));
        let target = self.dir.join(name);
        blocking(move || {
            if target.exists() {
                return Err(UploadError::Exists { name: state.name });
            }
            std::fs::create_dir_all(&dir).map_err(io_error("create", &dir))?;
            File::create_new(&part).map_err(io_error("create", &part))?;
            write_state(&state_file, &state)
        })
        .await?;
        tracing::info!(%id, %name, size, %user, "upload started");
        Ok(id)
    }

    /// The state of upload `id` when `user` started it.
    pub(crate) async fn state(&self, id: &str, user: &str) -> Result<UploadState, UploadError> {
        if !secret::is_token(id) {
            return Err(UploadError::NotFound);
        }
        let file = self.state_file(id);
        let state = blocking(move || read_state(&file)).await?;
        state.filter(|s| s.user == user).ok_or(UploadError::NotFound)
    }

    /// Appends what `body` brings (at most what the upload has left, and [`CHUNK_LIMIT`]) to
    /// upload `id` of `user`, when `at` is where it is; `declared`, the body's
    /// `Content-Length`, is checked before a byte is read. What arrived is synced and counted
    /// even when the body breaks off ([`UploadError::BrokeOff`]). One piece at a time: a
    /// second waits for the first, then finds the offset moved.
    pub(crate) async fn append<S, E>(
        &self,
        id: &str,
        user: &str,
        at: u64,
        declared: Option<u64>,
        body: S,
    ) -> Result<UploadState, UploadError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: Display,
    {
        if !secret::is_token(id) {
            return Err(UploadError::NotFound);
        }
        let lock = self.lock(id);
        let _one_at_a_time = lock.lock().await;
        let mut state = match self.state(id, user).await {
            Err(UploadError::NotFound) => {
                self.forget_unused(id, &lock);
                return Err(UploadError::NotFound);
            }
            found => found?,
        };
        if at != state.offset {
            return Err(UploadError::Conflict { offset: state.offset });
        }
        let room = (state.size - state.offset).min(CHUNK_LIMIT);
        if let Some(declared) = declared.filter(|n| *n > room) {
            return Err(UploadError::TooLarge(format!(
                "a piece of {declared} bytes at {at}: this upload takes at most {room} more in one piece"
            )));
        }
        let part = self.part(id);
        let opened = part.clone();
        let offset = state.offset;
        // Bytes past the offset last synced (a crash mid-piece) are not trusted: cut.
        let file = blocking(move || {
            let mut file = std::fs::OpenOptions::new().write(true).open(&opened).map_err(io_error("open", &opened))?;
            file.set_len(offset).map_err(io_error("truncate", &opened))?;
            file.seek(SeekFrom::Start(offset)).map_err(io_error("seek in", &opened))?;
            Ok(file)
        })
        .await?;
        let (file, written, broke) = receive(file, &part, body, room).await?;
        state.offset += written;
        state.updated = now();
        let (synced, state_file) = (state.clone(), self.state_file(id));
        blocking(move || {
            file.sync_data().map_err(io_error("sync", &part))?;
            write_state(&state_file, &synced)
        })
        .await?;
        match broke {
            None => Ok(state),
            Some(Broke::TooLong) => Err(UploadError::TooLarge(format!(
                "the piece brought more than the {room} bytes this upload had left in one piece; it holds {} bytes now",
                state.offset
            ))),
            Some(Broke::Body(reason)) => Err(UploadError::BrokeOff { offset: state.offset, reason }),
        }
    }

    /// Puts complete upload `id` (`state`) in place: linked into the bundles directory under
    /// its name, never over an existing file, then its partial files removed (also when the
    /// name is taken: the upload cannot go anywhere else).
    pub(crate) async fn place(&self, id: &str, state: &UploadState) -> Result<(), UploadError> {
        let (part, state_file, target, name) =
            (self.part(id), self.state_file(id), self.dir.join(&state.name), state.name.clone());
        let dir = self.dir.clone();
        let placed = blocking(move || {
            let linked = link_into_place(&part, &target, &name, &dir);
            if linked.is_ok() || matches!(linked, Err(UploadError::Exists { .. })) {
                std::fs::remove_file(&state_file).map_err(io_error("remove", &state_file))?;
            }
            linked
        })
        .await;
        self.forget(id);
        placed?;
        tracing::info!(%id, name = %state.name, "upload complete");
        Ok(())
    }

    /// Receives a whole file, `name` (checked), from `body` (the form without JavaScript) and
    /// puts it in place as [`Uploads::place`] does; nothing of it remains when it fails.
    pub(crate) async fn receive_whole<S, E>(&self, name: &str, body: S) -> Result<(), UploadError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: Display,
    {
        check_name(name)?;
        let (dir, part) = (self.uploads_dir(), self.part(&secret::random_token()));
        let created = part.clone();
        let file = blocking(move || {
            std::fs::create_dir_all(&dir).map_err(io_error("create", &dir))?;
            File::create_new(&created).map_err(io_error("create", &created))
        })
        .await?;
        let received = receive(file, &part, body, u64::MAX).await;
        let (target, name, dir) = (self.dir.join(name), name.to_owned(), self.dir.clone());
        let kept = part.clone();
        let placed = match received {
            Ok((file, _, None)) => {
                blocking(move || {
                    file.sync_data().map_err(io_error("sync", &kept))?;
                    link_into_place(&kept, &target, &name, &dir)
                })
                .await
            }
            Ok((_, written, Some(Broke::Body(reason)))) => Err(UploadError::BrokeOff { offset: written, reason }),
            Ok((_, _, Some(Broke::TooLong))) => Err(UploadError::TooLarge("the file is too large".into())),
            Err(e) => Err(e),
        };
        if placed.is_err() {
            let _ = blocking(move || std::fs::remove_file(&part).map_err(io_error("remove", &part))).await;
        }
        placed
    }

    /// Removes the uploads untouched for [`ABANDONED_AFTER`]: their state and part, and a
    /// part without a state (the form's, cut off by a crash) by its modification time.
    pub(crate) async fn sweep(&self) {
        let dir = self.uploads_dir();
        let removed = blocking(move || Ok(sweep(&dir, now()))).await.unwrap_or_default();
        for id in removed {
            tracing::info!(%id, "abandoned upload removed");
            self.forget(&id);
        }
    }
}

/// The ids of the uploads in `dir` abandoned by `now`, removed.
fn sweep(dir: &Path, now: u64) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut removed = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let Some(id) = path.file_stem().and_then(|s| s.to_str()).map(str::to_owned) else { continue };
        let last = match path.extension().and_then(|e| e.to_str()) {
            Some("json") => read_state(&path).ok().flatten().map(|s| s.updated),
            Some("part") if !dir.join(format!("{id}.json")).exists() => {
                // Gone meanwhile (removed with its state just now): nothing to do.
                let Ok(modified) = entry.metadata().and_then(|m| m.modified()) else { continue };
                Some(modified.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()))
            }
            _ => continue,
        };
        // A state that cannot be read is as good as abandoned: nobody can continue it.
        if last.is_none_or(|last| last + ABANDONED_AFTER <= now) {
            let _ = std::fs::remove_file(dir.join(format!("{id}.part")));
            let _ = std::fs::remove_file(dir.join(format!("{id}.json")));
            removed.push(id);
        }
    }
    removed
}

/// Links the complete `part` into the bundles directory `dir` as `target` (`name`): a hard
/// link fails on an existing name, so nothing is ever overwritten, and the file appears whole
/// under its name at once; then `part` is removed and the directory synced.
fn link_into_place(part: &Path, target: &Path, name: &str, dir: &Path) -> Result<(), UploadError> {
    match std::fs::hard_link(part, target) {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let _ = std::fs::remove_file(part);
            return Err(UploadError::Exists { name: name.to_owned() });
        }
        linked => linked.map_err(io_error("link the upload into place as", target))?,
    }
    std::fs::remove_file(part).map_err(io_error("remove", part))?;
    File::open(dir).and_then(|d| d.sync_all()).map_err(io_error("sync", dir))
}

fn read_state(path: &Path) -> Result<Option<UploadState>, UploadError> {
    match std::fs::read(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        read => {
            let bytes = read.map_err(io_error("read", path))?;
            let state = serde_json::from_slice(&bytes).map_err(|e| UploadError::Io {
                what: format!("read {}", path.display()),
                source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
            })?;
            Ok(Some(state))
        }
    }
}

/// Writes `state` whole, synced: a crash leaves the old state or the new.
fn write_state(path: &Path, state: &UploadState) -> Result<(), UploadError> {
    let bytes = serde_json::to_vec(state).unwrap_or_default();
    genesis_bundle::scratch::atomic_write(path, &bytes).map_err(io_error("write", path))
}

/// Why a body stopped before its end.
enum Broke {
    /// The connection said so.
    Body(String),
    /// It brought more than it may.
    TooLong,
}

/// Writes what `body` brings to `file` (open on `path`), [`WRITE_BUFFER`] bytes at a time on
/// a blocking thread, up to `limit` bytes; returns the file, the bytes written and, when the
/// body did not end cleanly, why. Everything that arrived within the limit is written.
async fn receive<S, E>(
    mut file: File,
    path: &Path,
    mut body: S,
    limit: u64,
) -> Result<(File, u64, Option<Broke>), UploadError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: Display,
{
    let mut buffer = Vec::with_capacity(WRITE_BUFFER);
    let mut written = 0u64;
    let broke = loop {
        match body.next().await {
            None => break None,
            Some(Err(e)) => break Some(Broke::Body(e.to_string())),
            Some(Ok(bytes)) => {
                if written + (buffer.len() + bytes.len()) as u64 > limit {
                    break Some(Broke::TooLong);
                }
                buffer.extend_from_slice(&bytes);
                if buffer.len() >= WRITE_BUFFER {
                    let n = buffer.len() as u64;
                    (file, buffer) = write_out(file, buffer, path).await?;
                    written += n;
                }
            }
        }
    };
    let n = buffer.len() as u64;
    let (file, _) = write_out(file, buffer, path).await?;
    Ok((file, written + n, broke))
}

/// Writes `buffer` to `file` on a blocking thread; both back, the buffer emptied.
async fn write_out(mut file: File, mut buffer: Vec<u8>, path: &Path) -> Result<(File, Vec<u8>), UploadError> {
    let path = path.to_owned();
    blocking(move || {
        file.write_all(&buffer).map_err(io_error("write", &path))?;
        buffer.clear();
        Ok((file, buffer))
    })
    .await
}

/// Runs file-system work on the blocking pool, off the threads that serve requests.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, UploadError> + Send + 'static,
) -> Result<T, UploadError> {
    match tokio::task::spawn_blocking(work).await {
        Ok(done) => done,
        Err(e) => Err(UploadError::Io { what: "finish its file work".into(), source: std::io::Error::other(e) }),
    }
}

fn now() -> u64 {
    genesis_bundle::unix_now()
}

/// The session's CSRF token as the script sends it.
fn csrf_header(headers: &HeaderMap) -> &str {
    headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default()
}

/// The body of `POST /uploads`.
#[derive(serde::Deserialize)]
struct NewUpload {
    name: String,
    size: u64,
    /// The CSRF token, in a form (the script sends it in `X-CSRF-Token`).
    #[serde(default)]
    csrf: Option<String>,
}

/// `POST /uploads`: starts an upload; answers 201 `{"id": …, "offset": 0}`.
async fn create(State(state): State<Shared>, signed: Signed, request: Request) -> Result<Response, Response> {
    let headers = request.headers().clone();
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let new = if json {
        Json::<NewUpload>::from_request(request, &state)
            .await
            .map(|Json(new)| new)
            .map_err(IntoResponse::into_response)?
    } else {
        Form::<NewUpload>::from_request(request, &state)
            .await
            .map(|Form(new)| new)
            .map_err(IntoResponse::into_response)?
    };
    let given = new.csrf.as_deref().unwrap_or_else(|| csrf_header(&headers));
    signed.check_csrf(given, &headers, &state).map_err(IntoResponse::into_response)?;
    may_upload(&state, &signed).await?;
    let id = state
        .bundles
        .uploads()
        .create(&new.name, new.size, &signed.user.name)
        .await
        .map_err(IntoResponse::into_response)?;
    let location = format!("/uploads/{id}");
    let reply = serde_json::json!({ "id": id, "offset": 0 });
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location), (header::CACHE_CONTROL, "no-store".to_owned())],
        Json(reply),
    )
        .into_response())
}

/// `create bundles`, which every upload request needs.
async fn may_upload(state: &AppState, signed: &Signed) -> Result<(), Response> {
    let access = console_access(state, "create", "bundles");
    signed.authorize(state, &access).await.map_err(IntoResponse::into_response)
}

/// `HEAD /uploads/{id}`: `Upload-Offset`, the bytes the console holds, and `Upload-Length`.
async fn offset(
    State(state): State<Shared>,
    signed: Signed,
    UrlPath(id): UrlPath<String>,
) -> Result<Response, Response> {
    may_upload(&state, &signed).await?;
    let upload = state.bundles.uploads().state(&id, &signed.user.name).await.map_err(IntoResponse::into_response)?;
    Ok(offset_headers(&upload).into_response())
}

fn offset_headers(upload: &UploadState) -> [(HeaderName, String); 3] {
    [
        (UPLOAD_OFFSET, upload.offset.to_string()),
        (UPLOAD_LENGTH, upload.size.to_string()),
        (header::CACHE_CONTROL, "no-store".to_owned()),
    ]
}

/// `PATCH /uploads/{id}` (`Upload-Offset`, `X-CSRF-Token`, at most [`CHUNK_LIMIT`] bytes):
/// appends the piece; answers `{"offset", "size", "done", "location"}`, `location` being the
/// bundle's page once the last piece put it in place.
async fn append(
    State(state): State<Shared>,
    signed: Signed,
    headers: HeaderMap,
    deadline: Option<Extension<BodyDeadline>>,
    UrlPath(id): UrlPath<String>,
    body: Body,
) -> Result<Response, Response> {
    signed.check_csrf(csrf_header(&headers), &headers, &state).map_err(IntoResponse::into_response)?;
    may_upload(&state, &signed).await?;
    let number =
        |name: &HeaderName| headers.get(name).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    let Some(at) = number(&UPLOAD_OFFSET) else {
        let missing = "the PATCH has no Upload-Offset header: send where the piece starts (HEAD /uploads/ID says it)";
        return Err(UploadError::BadRequest(missing.into()).into_response());
    };
    // Only now, for a signed-in user whose CSRF token and right checked out.
    if let Some(Extension(deadline)) = deadline {
        deadline.extend(CHUNK_TIME);
    }
    let declared = number(&header::CONTENT_LENGTH);
    let body = Box::pin(body.into_data_stream());
    // In a task of its own: a client gone mid-piece ends this request, not the work on what
    // its piece brought, which is still synced and counted for the resumption.
    let task = {
        let (state, user) = (Arc::clone(&state), signed.user.name.clone());
        tokio::spawn(async move { receive_piece(&state, &id, &user, at, declared, body).await })
    };
    let stopped = |e: tokio::task::JoinError| {
        let what = "finish receiving the piece".to_owned();
        UploadError::Io { what, source: std::io::Error::other(e) }.into_response()
    };
    let (upload, location) = task.await.map_err(stopped)?.map_err(IntoResponse::into_response)?;
    let done = upload.offset == upload.size;
    let reply = serde_json::json!({ "offset": upload.offset, "size": upload.size, "done": done, "location": location });
    Ok((offset_headers(&upload), Json(reply)).into_response())
}

/// Appends a piece to upload `id` of `user` and, once it is complete, puts it in place and
/// starts its verification; the upload as it now is, and the page of its bundle when it is
/// in place.
async fn receive_piece<S, E>(
    state: &AppState,
    id: &str,
    user: &str,
    at: u64,
    declared: Option<u64>,
    body: S,
) -> Result<(UploadState, Option<String>), UploadError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: Display,
{
    let uploads = state.bundles.uploads();
    let upload = uploads.append(id, user, at, declared, body).await?;
    if upload.offset < upload.size {
        return Ok((upload, None));
    }
    uploads.place(id, &upload).await?;
    verify_soon(state).await;
    let archive = archive_of_sidecar(&upload.name).unwrap_or(&upload.name);
    let location = format!("/bundles/{}", segment(archive));
    Ok((upload, Some(location)))
}

/// Starts the verification of what was just put in place. The upload is done whatever this
/// finds: a failure here (the API server not answering for the trust) is logged, and the
/// next look at the Bundles tab tries again.
async fn verify_soon(state: &AppState) {
    let refreshed = match crate::bundles::read_trust(state).await {
        Ok(trust) => state.bundles.refresh(&trust).await.map(drop),
        Err(e) => Err(e),
    };
    if refreshed.is_err() {
        tracing::warn!("the bundles directory could not be looked at again after an upload");
    }
}

/// `POST /uploads/form` (multipart, `csrf` first, then `file` parts): the form without
/// JavaScript. Each file is put in place as it completes; then to the bundle's page (one
/// archive) or the Bundles tab.
async fn form(
    State(state): State<Shared>,
    signed: Signed,
    headers: HeaderMap,
    deadline: Option<Extension<BodyDeadline>>,
    mut multipart: Multipart,
) -> Result<Response, Response> {
    let given = match multipart.next_field().await.map_err(unreadable)? {
        Some(mut field) if field.name() == Some("csrf") => text(&mut field).await?,
        _ => {
            let missing = PageError::new(
                StatusCode::FORBIDDEN,
                "the form's CSRF token is missing",
                "reload the Bundles tab and upload again",
            );
            return Err(missing.into_response());
        }
    };
    signed.check_csrf(&given, &headers, &state).map_err(IntoResponse::into_response)?;
    may_upload(&state, &signed).await?;
    if let Some(Extension(deadline)) = deadline {
        deadline.extend(FORM_TIME);
    }
    let mut archives = Vec::new();
    let mut placed = 0;
    while let Some(field) = multipart.next_field().await.map_err(unreadable)? {
        if field.name() != Some("file") {
            let what = format!("the upload form has no field {:?}", field.name().unwrap_or_default());
            return Err(PageError::bad_request(what).into_response());
        }
        let name = match field.file_name() {
            // The file input left empty: browsers send a part without a file.
            Some("") => continue,
            Some(name) => name.to_owned(),
            None => return Err(PageError::bad_request("a `file` part without a file name: send files").into_response()),
        };
        let body = std::pin::pin!(field);
        state.bundles.uploads().receive_whole(&name, body).await.map_err(IntoResponse::into_response)?;
        placed += 1;
        if is_archive_name(&name) {
            archives.push(name);
        }
    }
    if placed == 0 {
        return Err(
            PageError::bad_request("no file was chosen: choose the bundle archive and its sidecars").into_response()
        );
    }
    verify_soon(&state).await;
    Ok(match archives.as_slice() {
        [one] => see_other(&format!("/bundles/{}", segment(one))),
        _ => see_other("/bundles"),
    })
}

/// A text field, refused past [`TEXT_LIMIT`] bytes and read no further.
async fn text(field: &mut axum::extract::multipart::Field<'_>) -> Result<String, Response> {
    let mut bytes = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(unreadable)? {
        if bytes.len() + chunk.len() > TEXT_LIMIT {
            return Err(
                PageError::bad_request(format!("the form's `csrf` is longer than {TEXT_LIMIT} bytes")).into_response()
            );
        }
        bytes.extend_from_slice(&chunk);
    }
    String::from_utf8(bytes).map_err(|_| PageError::bad_request("the form's `csrf` is not UTF-8").into_response())
}

/// A body that is not the form's multipart, or that broke off (the client went away, the
/// body passed [`FORM_LIMIT`]).
fn unreadable(e: MultipartError) -> Response {
    PageError::new(
        e.status(),
        format!("the upload could not be read: {}", e.body_text()),
        "choose the files and upload again",
    )
    .into_response()
}

#[cfg(test)]
mod tests {
    use std::io;

    use super::*;

    const USER: &str = "system:serviceaccount:genesis-users:operator";

    fn body(pieces: &[&'static [u8]]) -> impl Stream<Item = Result<Bytes, io::Error>> + Unpin {
        futures_util::stream::iter(pieces.iter().map(|p| Ok(Bytes::from_static(p))).collect::<Vec<_>>())
    }

    /// Pieces, then the connection breaking.
    fn cut(pieces: &[&'static [u8]]) -> impl Stream<Item = Result<Bytes, io::Error>> + Unpin {
        let mut items: Vec<Result<Bytes, io::Error>> = pieces.iter().map(|p| Ok(Bytes::from_static(p))).collect();
        items.push(Err(io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed before message completed")));
        futures_util::stream::iter(items)
    }

    #[test]
    fn names_are_archives_or_sidecars_in_one_segment() {
        for name in [
            "demo-0.1.0.tar.zst",
            "demo-0.1.0.tar.zst.sha256",
            "demo-0.1.0.tar.zst.sig",
            "demo-0.1.0.tar.zst.cosign.bundle",
        ] {
            assert!(check_name(name).is_ok(), "{name}");
        }
        for name in
            ["../evil.tar.zst", "/etc/evil.tar.zst", "a/b.tar.zst", "evil\0.tar.zst", ".uploads", "x.tar.zst.exe", ""]
        {
            match check_name(name) {
                Err(UploadError::BadRequest(why)) => {
                    assert!(why.contains("is not the name of a bundle archive"), "{why}")
                }
                other => panic!("{name:?}: {other:?}"),
            }
        }
    }

    #[tokio::test]
    async fn pieces_append_in_order_resume_after_a_cut_and_land_under_their_name_once() {
        let dir = tempfile::tempdir().unwrap();
        let uploads = Uploads::new(dir.path());
        let id = uploads.create("demo-0.1.0.tar.zst", 10, USER).await.unwrap();
        assert!(secret::is_token(&id));

        let state = uploads.append(&id, USER, 0, Some(4), body(&[b"01", b"23"])).await.unwrap();
        assert_eq!(state.offset, 4);
        // A piece that does not start where the upload is: refused with where it is.
        match uploads.append(&id, USER, 2, None, body(&[b"xx"])).await {
            Err(UploadError::Conflict { offset }) => assert_eq!(offset, 4),
            other => panic!("{other:?}"),
        }
        // Cut mid-body: what arrived is kept.
        match uploads.append(&id, USER, 4, Some(6), cut(&[b"45"])).await {
            Err(UploadError::BrokeOff { offset, .. }) => assert_eq!(offset, 6),
            other => panic!("{other:?}"),
        }
        // Another user cannot see or continue it; a made-up id is no upload. Neither leaves a
        // lock behind, and the upload's own goes on.
        assert!(matches!(uploads.state(&id, "someone-else").await, Err(UploadError::NotFound)));
        assert!(matches!(uploads.state("../../etc", USER).await, Err(UploadError::NotFound)));
        let zeros = "0".repeat(64);
        for (made_up, user) in [("../../etc", USER), (id.as_str(), "someone-else"), (zeros.as_str(), USER)] {
            assert!(matches!(uploads.append(made_up, user, 6, None, body(&[b"x"])).await, Err(UploadError::NotFound)));
        }
        assert!(uploads.locks.lock().unwrap().is_empty(), "no lock kept for what is no upload of the asker's");
        // Too much for what is left.
        assert!(matches!(
            uploads.append(&id, USER, 6, Some(5), body(&[b"6789x"])).await,
            Err(UploadError::TooLarge(_))
        ));

        // A restart: the state is on disk.
        let restarted = Uploads::new(dir.path());
        assert_eq!(restarted.state(&id, USER).await.unwrap().offset, 6);
        let state = restarted.append(&id, USER, 6, None, body(&[b"6789"])).await.unwrap();
        assert_eq!((state.offset, state.size), (10, 10));
        restarted.place(&id, &state).await.unwrap();
        assert_eq!(std::fs::read(dir.path().join("demo-0.1.0.tar.zst")).unwrap(), b"0123456789");
        assert_eq!(std::fs::read_dir(dir.path().join(UPLOADS_DIR)).unwrap().count(), 0, "nothing left behind");

        // Never over an existing file: refused when started, and when placed.
        assert!(matches!(restarted.create("demo-0.1.0.tar.zst", 3, USER).await, Err(UploadError::Exists { .. })));
        let second = restarted.create("other.tar.zst", 2, USER).await.unwrap();
        let state = restarted.append(&second, USER, 0, None, body(&[b"ab"])).await.unwrap();
        std::fs::write(dir.path().join("other.tar.zst"), b"first").unwrap();
        assert!(matches!(restarted.place(&second, &state).await, Err(UploadError::Exists { .. })));
        assert_eq!(std::fs::read(dir.path().join("other.tar.zst")).unwrap(), b"first");
    }

    #[tokio::test]
    async fn a_whole_file_lands_in_place_or_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let uploads = Uploads::new(dir.path());
        uploads.receive_whole("demo-0.1.0.tar.zst.sha256", body(&[b"abc", b"def"])).await.unwrap();
        assert_eq!(std::fs::read(dir.path().join("demo-0.1.0.tar.zst.sha256")).unwrap(), b"abcdef");
        assert!(matches!(uploads.receive_whole("x.tar.zst", cut(&[b"abc"])).await, Err(UploadError::BrokeOff { .. })));
        assert!(!dir.path().join("x.tar.zst").exists());
        assert!(matches!(
            uploads.receive_whole("../x.tar.zst", body(&[b"abc"])).await,
            Err(UploadError::BadRequest(_))
        ));
        assert_eq!(std::fs::read_dir(dir.path().join(UPLOADS_DIR)).unwrap().count(), 0, "nothing left behind");
    }

    #[tokio::test]
    async fn uploads_untouched_for_a_day_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let uploads = Uploads::new(dir.path());
        let id = uploads.create("demo-0.1.0.tar.zst", 10, USER).await.unwrap();
        let uploads_dir = dir.path().join(UPLOADS_DIR);
        assert!(sweep(&uploads_dir, now()).is_empty(), "a fresh upload stays");
        assert_eq!(sweep(&uploads_dir, now() + ABANDONED_AFTER), std::slice::from_ref(&id));
        assert!(matches!(uploads.state(&id, USER).await, Err(UploadError::NotFound)));
        assert_eq!(std::fs::read_dir(&uploads_dir).unwrap().count(), 0);
    }
}
