//! Checks run against any smart-HTTP server: clones with real git, and
//! hostile requests that must be refused without harming the server.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use flate2::write::GzEncoder;
use flate2::Compression;
use marketplace_edge::git::memory::SnapshotFile;
use marketplace_edge::git::tree::FileMode;

use super::git_cli::{git, git_cmd, git_raw, TempDir};
use super::http_client::{request, RawResponse};

/// What a clone must contain: path → (executable, content).
pub type ExpectedFiles = BTreeMap<String, (bool, Vec<u8>)>;

/// The expected work tree for `files`.
pub fn expected_files(files: &[SnapshotFile]) -> ExpectedFiles {
    files
        .iter()
        .map(|f| {
            (
                f.path.as_str().to_string(),
                (f.mode == FileMode::Executable, f.content.clone()),
            )
        })
        .collect()
}

/// Reads a clone's files and modes from its index and work tree.
fn cloned_files(dir: &Path) -> ExpectedFiles {
    let listing = git(dir, &["ls-files", "-s", "-z"]);
    listing
        .split('\0')
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (meta, path) = l.split_once('\t').expect("ls-files line");
            let exec = meta.starts_with("100755");
            let content = std::fs::read(dir.join(path)).expect("read cloned file");
            (path.to_string(), (exec, content))
        })
        .collect()
}

/// A clone that passed the generic checks.
pub struct Cloned {
    pub tmp: TempDir,
    pub commit: String,
    pub files: ExpectedFiles,
}

impl Cloned {
    /// The work tree.
    pub fn dir(&self) -> std::path::PathBuf {
        self.tmp.path().join("w")
    }

    /// Every object id in the clone's object database.
    pub fn all_objects(&self) -> Vec<String> {
        let out = git(
            &self.dir(),
            &[
                "cat-file",
                "--batch-all-objects",
                "--batch-check=%(objectname)",
            ],
        );
        out.lines().map(str::to_string).collect()
    }

    /// Files of one served plugin directory, relative to it.
    pub fn plugin(&self, dir: &str) -> ExpectedFiles {
        let prefix = format!("plugins/{dir}/");
        self.files
            .iter()
            .filter_map(|(p, v)| Some((p.strip_prefix(&prefix)?.to_string(), v.clone())))
            .collect()
    }
}

/// Clones `url` with protocol `version` (0 or 2), optionally `--depth 1`,
/// and checks what holds for any snapshot: `HEAD` → `refs/heads/main`,
/// `git fsck --strict`, the shallow file, that `git commit-tree` recomputes
/// the same commit from the tree with DESIGN.md's identity (so it is a root
/// commit with the fixed bytes), and that an up-to-date `fetch` and `pull`
/// succeed without changing anything.
pub fn clone_view(url: &str, version: u8, shallow: bool) -> Cloned {
    let tmp = TempDir::new("clone");
    let proto = format!("protocol.version={version}");
    let mut args = vec!["-c", &proto, "clone", "-q"];
    if shallow {
        args.extend(["--depth", "1"]);
    }
    args.extend([url, "w"]);
    git(tmp.path(), &args);
    let w = tmp.path().join("w");
    let commit = git(&w, &["rev-parse", "HEAD"]);
    assert_eq!(git(&w, &["symbolic-ref", "HEAD"]), "refs/heads/main");
    git(&w, &["fsck", "--strict", "--no-dangling"]);
    let shallow_file = w.join(".git/shallow");
    assert_eq!(shallow_file.exists(), shallow, "shallow file presence");
    if shallow {
        assert_eq!(
            std::fs::read_to_string(&shallow_file).unwrap().trim(),
            commit
        );
    }
    let tree = git(&w, &["rev-parse", "HEAD^{tree}"]);
    assert_eq!(
        git(&w, &["commit-tree", &tree, "-m", "marketplace snapshot"]),
        commit,
        "commit-tree recomputes HEAD"
    );

    git(&w, &["-c", &proto, "fetch", "-q", "origin"]);
    let mut pull = git_cmd(&w);
    pull.args(["-c", &proto, "pull", "-q", "--no-rebase", "origin", "HEAD"]);
    let out = pull.output().expect("run git pull");
    assert!(
        out.status.success(),
        "pull failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(git(&w, &["rev-parse", "HEAD"]), commit, "HEAD after pull");
    let files = cloned_files(&w);
    Cloned { tmp, commit, files }
}

/// `clone_view`, then HEAD and the files must be exactly as expected.
pub fn check_clone(
    url: &str,
    version: u8,
    shallow: bool,
    expected_commit: &str,
    files: &ExpectedFiles,
) {
    let c = clone_view(url, version, shallow);
    assert_eq!(
        c.commit, expected_commit,
        "HEAD after clone (v{version}, shallow={shallow})"
    );
    assert_eq!(
        &c.files, files,
        "cloned files (v{version}, shallow={shallow})"
    );
}

/// `git ls-remote` shows HEAD and main at the expected commit.
pub fn check_ls_remote(url: &str, version: u8, expected_commit: &str) {
    let tmp = TempDir::new("lsremote");
    let proto = format!("protocol.version={version}");
    let out = git(tmp.path(), &["-c", &proto, "ls-remote", "--symref", url]);
    assert!(
        out.contains("ref: refs/heads/main\tHEAD"),
        "ls-remote v{version} shows the HEAD symref:\n{out}"
    );
    assert!(
        out.contains(&format!("{expected_commit}\tHEAD")),
        "ls-remote v{version}:\n{out}"
    );
    assert!(
        out.contains(&format!("{expected_commit}\trefs/heads/main")),
        "ls-remote v{version}:\n{out}"
    );
}

/// One pkt-line.
pub fn pkt(line: &str) -> Vec<u8> {
    let mut out = format!("{:04x}", line.len() + 4).into_bytes();
    out.extend_from_slice(line.as_bytes());
    out
}

/// Band 1 (the pack) of a side-band response's pkt-lines, v0 or v2, and
/// the longest pkt-line seen. Other lines (`NAK`, `packfile`, shallow
/// info, progress, flush and delimiter packets) are stepped over.
pub fn band_one(mut body: &[u8]) -> (Vec<u8>, usize) {
    let (mut out, mut longest) = (Vec::new(), 0);
    while body.len() >= 4 {
        let len = usize::from_str_radix(std::str::from_utf8(&body[..4]).unwrap(), 16)
            .expect("a pkt-line length");
        if len < 4 {
            body = &body[4..];
            continue;
        }
        longest = longest.max(len);
        if body[4] == 1 {
            out.extend_from_slice(&body[5..len]);
        }
        body = &body[len..];
    }
    (out, longest)
}

/// One protocol v2 upload-pack POST to the Worker at `base` as the owner
/// of `token` (HTTP Basic, as git sends it); the raw response.
pub fn upload_pack_v2(base: &str, token: &str, body: &[u8]) -> super::http_client::RawResponse {
    super::http_client::request(
        base,
        "POST",
        "/marketplace.git/git-upload-pack",
        &[
            ("Authorization", &basic_auth(token)),
            ("Content-Type", "application/x-git-upload-pack-request"),
            ("Git-Protocol", "version=2"),
        ],
        body,
    )
}

/// The value after `prefix` (`cache;desc=`, `copy;count=`, …) of the
/// `Server-Timing` metric that starts with it, up to its next parameter.
pub fn metric(r: &RawResponse, prefix: &str) -> Option<String> {
    r.header("server-timing")
        .unwrap_or_default()
        .split(',')
        .find_map(|m| m.trim().strip_prefix(prefix))
        .map(|v| v.split(';').next().unwrap_or_default().to_string())
}

/// Whether a whole-view fetch's answer leaves the view's pack cached (or
/// came from the cache): a miss from pack segments caches only on the
/// view's second miss (`copy;count=1`), a whole build always does.
pub fn caches_pack(r: &RawResponse) -> bool {
    metric(r, "cache;desc=").as_deref() != Some("segments")
        || metric(r, "copy;count=").as_deref() == Some("1")
}

/// The first `Some` of `attempt`, tried up to 50 times 100 ms apart (for
/// work a response leaves to finish after it); `None` after five seconds.
pub fn poll<T>(mut attempt: impl FnMut() -> Option<T>) -> Option<T> {
    for i in 0..50 {
        if i > 0 {
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        if let Some(found) = attempt() {
            return Some(found);
        }
    }
    None
}

/// Whether `done` holds within five seconds (see `poll`).
pub fn eventually(done: impl Fn() -> bool) -> bool {
    poll(|| done().then_some(())).is_some()
}

/// Repeats `fetch` (a whole-view fetch) until an answer caches the view's
/// pack (see `caches_pack`): a first miss records the view after its
/// response, so the next may come too soon to know. Returns that answer.
pub fn fetch_until_caching(fetch: impl Fn() -> RawResponse) -> RawResponse {
    poll(|| Some(fetch()).filter(caches_pack))
        .expect("no fetch of the view cached its pack in 50 tries")
}

/// A protocol v2 request body: `command`, the object format, then `args`.
pub fn v2_request(command: &str, args: &[String]) -> Vec<u8> {
    let mut b = pkt(&format!("command={command}\n"));
    b.extend(pkt("object-format=sha1\n"));
    b.extend(b"0001");
    for a in args {
        b.extend(pkt(&format!("{a}\n")));
    }
    b.extend(b"0000");
    b
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::best());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// One hostile request and what must come back.
pub struct Hostile {
    pub name: &'static str,
    pub method: &'static str,
    pub path: &'static str,
    pub headers: Vec<(&'static str, &'static str)>,
    pub body: Vec<u8>,
    pub status: u16,
    /// Text the response body must contain.
    pub expect: &'static str,
}

const REQ: (&str, &str) = ("Content-Type", "application/x-git-upload-pack-request");
const V2: (&str, &str) = ("Git-Protocol", "version=2");

/// The hostile cases, for a repository mounted at `repo` (e.g. `/repo.git`).
pub fn hostile_cases() -> Vec<Hostile> {
    let unknown = "want 1111111111111111111111111111111111111111 side-band-64k\n";
    let mut v2_bad_cap = pkt("command=fetch\n");
    v2_bad_cap.extend(pkt("frobnicate=yes\n"));
    v2_bad_cap.extend(b"0000");
    let mut v2_unknown = pkt("command=push-everything\n");
    v2_unknown.extend(b"0000");
    let mut deepen0 = pkt(unknown);
    deepen0.truncate(0);
    deepen0.extend(pkt("command=fetch\n"));
    deepen0.extend(b"0001");
    deepen0.extend(pkt("deepen 0\n"));
    deepen0.extend(b"0000");
    let mut v0_unknown_line = pkt("hello there\n");
    v0_unknown_line.extend(b"0000");
    let mut v0_unknown_want = pkt(unknown);
    v0_unknown_want.extend(b"0000");
    v0_unknown_want.extend(pkt("done\n"));
    let h = |name,
             method,
             path,
             headers: Vec<(&'static str, &'static str)>,
             body: Vec<u8>,
             status,
             expect| Hostile {
        name,
        method,
        path,
        headers,
        body,
        status,
        expect,
    };
    vec![
        h(
            "truncated pkt-line",
            "POST",
            "/git-upload-pack",
            vec![REQ],
            b"0032want 12".to_vec(),
            400,
            "ends inside a pkt-line",
        ),
        h(
            "non-hex pkt length",
            "POST",
            "/git-upload-pack",
            vec![REQ],
            b"zz10want".to_vec(),
            400,
            "not four hex digits",
        ),
        h(
            "oversized pkt length",
            "POST",
            "/git-upload-pack",
            vec![REQ],
            b"ffff"
                .iter()
                .copied()
                .chain(std::iter::repeat_n(b'a', 70_000))
                .collect(),
            400,
            "exceeds",
        ),
        h(
            "reserved pkt length",
            "POST",
            "/git-upload-pack",
            vec![REQ, V2],
            b"0003".to_vec(),
            400,
            "reserved",
        ),
        h(
            "unknown v0 line",
            "POST",
            "/git-upload-pack",
            vec![REQ],
            v0_unknown_line,
            200,
            "ERR upload-pack: protocol error",
        ),
        h(
            "want of an unknown object",
            "POST",
            "/git-upload-pack",
            vec![REQ],
            v0_unknown_want,
            200,
            "not our ref",
        ),
        h(
            "unknown v2 command",
            "POST",
            "/git-upload-pack",
            vec![REQ, V2],
            v2_unknown,
            200,
            "ERR unknown command",
        ),
        h(
            "unknown v2 capability",
            "POST",
            "/git-upload-pack",
            vec![REQ, V2],
            v2_bad_cap,
            200,
            "ERR unknown capability",
        ),
        h(
            "deepen 0",
            "POST",
            "/git-upload-pack",
            vec![REQ, V2],
            deepen0,
            200,
            "invalid deepen",
        ),
        h(
            "body over the limit",
            "POST",
            "/git-upload-pack",
            vec![REQ],
            vec![b'0'; (1 << 20) + 1],
            413,
            "larger than",
        ),
        h(
            "gzip bomb",
            "POST",
            "/git-upload-pack",
            vec![REQ, ("Content-Encoding", "gzip")],
            gzip(&vec![b'0'; 50 << 20]),
            413,
            "larger than",
        ),
        h(
            "corrupt gzip",
            "POST",
            "/git-upload-pack",
            vec![REQ, ("Content-Encoding", "gzip")],
            b"\x1f\x8bnot really".to_vec(),
            400,
            "gzip",
        ),
        h(
            "unknown content encoding",
            "POST",
            "/git-upload-pack",
            vec![REQ, ("Content-Encoding", "br")],
            b"0000".to_vec(),
            415,
            "Content-Encoding",
        ),
        h(
            "wrong content type",
            "POST",
            "/git-upload-pack",
            vec![("Content-Type", "text/plain")],
            b"0000".to_vec(),
            415,
            "Content-Type",
        ),
        h(
            "push advertisement",
            "GET",
            "/info/refs?service=git-receive-pack",
            vec![],
            vec![],
            403,
            "push is not supported",
        ),
        h(
            "push",
            "POST",
            "/git-receive-pack",
            vec![("Content-Type", "application/x-git-receive-pack-request")],
            b"0000".to_vec(),
            403,
            "push is not supported",
        ),
        h(
            "dumb HTTP",
            "GET",
            "/info/refs",
            vec![],
            vec![],
            403,
            "dumb HTTP",
        ),
        h(
            "GET on upload-pack",
            "GET",
            "/git-upload-pack",
            vec![],
            vec![],
            405,
            "not allowed",
        ),
    ]
}

/// The `Authorization` header carrying `token` as git sends it (HTTP Basic).
pub fn basic_auth(token: &str) -> String {
    basic_userinfo(&format!("x:{token}"))
}

/// The HTTP Basic `Authorization` value for a URL's `user:password`.
pub fn basic_userinfo(userinfo: &str) -> String {
    format!("Basic {}", base64_encode(userinfo.as_bytes()))
}

fn base64_encode(data: &[u8]) -> String {
    const ABC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `base` + `repo` as a git URL, with `token` as the password when given.
fn git_url(base: &str, repo: &str, token: Option<&str>) -> String {
    match token {
        Some(t) => base.replacen("http://", &format!("http://x:{t}@"), 1) + repo,
        None => format!("{base}{repo}"),
    }
}

/// Sends every hostile case to the repository at `base` + `repo` (as the
/// user of `token`, if given) and checks each answer, then checks the server
/// still serves a real `ls-remote`.
pub fn check_hostile(base: &str, repo: &str, expected_commit: &str, token: Option<&str>) {
    let auth = token.map(basic_auth);
    for case in hostile_cases() {
        let path = format!("{repo}{}", case.path);
        let mut headers = case.headers.clone();
        if let Some(a) = &auth {
            headers.push(("Authorization", a));
        }
        let resp: RawResponse = request(base, case.method, &path, &headers, &case.body);
        assert_eq!(
            resp.status,
            case.status,
            "{}: status (body: {})",
            case.name,
            resp.text()
        );
        assert!(
            resp.text().contains(case.expect),
            "{}: body {:?} lacks {:?}",
            case.name,
            resp.text(),
            case.expect
        );
    }
    check_ls_remote(&git_url(base, repo, token), 2, expected_commit);
    let tmp = TempDir::new("afterhostile");
    let out = git_raw(
        tmp.path(),
        &["ls-remote", &git_url(base, repo, token)],
        None,
    );
    assert!(
        out.status.success(),
        "server still serves v0 after hostile input"
    );
}

/// A valid v0 fetch sent gzip-encoded (as git does for large requests) gets
/// a NAK and a pack.
pub fn check_gzip_request(base: &str, repo: &str, head: &str, token: Option<&str>) {
    let mut body = pkt(&format!("want {head} side-band-64k no-progress\n"));
    body.extend(b"0000");
    body.extend(pkt("done\n"));
    let auth = token.map(basic_auth);
    let mut headers = vec![REQ, ("Content-Encoding", "gzip")];
    if let Some(a) = &auth {
        headers.push(("Authorization", a));
    }
    let resp = request(
        base,
        "POST",
        &format!("{repo}/git-upload-pack"),
        &headers,
        &gzip(&body),
    );
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(
        resp.header("content-type"),
        Some("application/x-git-upload-pack-result")
    );
    assert!(
        resp.body.starts_with(b"0008NAK\n"),
        "starts with NAK: {:?}",
        &resp.body[..16.min(resp.body.len())]
    );
    assert!(resp.body.windows(4).any(|w| w == b"PACK"), "carries a pack");
    assert!(resp.body.ends_with(b"0000"), "ends with a flush");
}
