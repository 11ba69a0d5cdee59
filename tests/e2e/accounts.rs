//! Accounts and tokens through the real binary: `vedetta users …` and `vedetta tokens …`, then signing in and
//! calling over HTTP.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use testkit::TestDb;

use crate::support::{BIN, Launch, Vedetta, get};

const ADMIN: &str = "vdt_accounts_test_admin";

/// Runs `vedetta ARGS…` on the database of `db`, with `stdin` on its standard input.
fn vedetta(root: &Path, db: &TestDb, args: &[&str], stdin: Option<&str>) -> Output {
    let mut cmd = Command::new(BIN);
    for (key, _) in std::env::vars() {
        if key.starts_with("VEDETTA_") || key == "RUST_LOG" {
            cmd.env_remove(key);
        }
    }
    cmd.arg("--data-dir")
        .arg(root.join("data"))
        .args(args)
        .env("VEDETTA_DATABASE_URL", &db.url)
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("start vedetta");
    if let Some(text) = stdin {
        child.stdin.take().expect("stdin").write_all(text.as_bytes()).expect("write stdin");
    }
    child.wait_with_output().expect("run vedetta")
}

/// Runs `vedetta ARGS…`, asserts it succeeded, returns its stdout.
fn ok(root: &Path, db: &TestDb, args: &[&str], stdin: Option<&str>) -> String {
    let out = vedetta(root, db, args, stdin);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{args:?} failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    stdout
}

/// The secret printed after "(… shown once): ".
fn shown_once(stdout: &str) -> String {
    stdout
        .lines()
        .find_map(|l| l.split_once("shown once): ").map(|(_, secret)| secret.trim().to_string()))
        .unwrap_or_else(|| panic!("no secret in {stdout}"))
}

fn serve(root: &Path, db: &TestDb) -> Vedetta {
    Launch::serve(root).env("VEDETTA_DATABASE_URL", &db.url).env("VEDETTA_ADMIN_TOKEN", ADMIN).start()
}

/// POST /api/auth/login: status, the Set-Cookie header and the body.
fn login(vedetta: &Vedetta, username: &str, password: &str) -> (u16, String, Value) {
    let response = ureq::post(&vedetta.url("/api/auth/login"))
        .timeout(Duration::from_secs(20))
        .send_json(json!({"username": username, "password": password}));
    let response = match response {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("login: {e}"),
    };
    let status = response.status();
    let cookie = response.header("set-cookie").unwrap_or_default().to_string();
    (status, cookie, response.into_json().unwrap_or(Value::Null))
}

/// A request with the session cookie (and the CSRF token, if given): status and body.
fn with_cookie(method: &str, url: &str, cookie: &str, csrf: Option<&str>) -> (u16, Value) {
    let mut request = ureq::request(method, url).timeout(Duration::from_secs(20)).set("Cookie", cookie);
    if let Some(csrf) = csrf {
        request = request.set("X-CSRF-Token", csrf);
    }
    let response = match request.call() {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{method} {url}: {e}"),
    };
    let status = response.status();
    (status, response.into_json().unwrap_or(Value::Null))
}

#[test]
fn a_user_added_on_the_command_line_signs_in_over_http() {
    let db = TestDb::new_blocking();
    let root = tempfile::tempdir().unwrap();
    let root = root.path();

    let out = ok(
        root,
        &db,
        &[
            "users",
            "add",
            "anna.rossi",
            "--name",
            "Anna Rossi",
            "--email",
            "anna.rossi@comune.genova.it",
            "--role",
            "operator",
            "--comune",
            "010025",
            "--comune",
            "010001",
        ],
        None,
    );
    assert!(out.contains("operator@010025") && out.contains("operator@010001"), "{out}");
    let generated = shown_once(&out);
    assert_eq!(generated.len(), 20, "{out}");
    let out = ok(
        root,
        &db,
        &[
            "users",
            "add",
            "mario.bianchi",
            "--name",
            "Mario Bianchi",
            "--role",
            "civil_protection",
            "--password-stdin",
        ],
        Some("una password lunga\n"),
    );
    assert!(!out.contains("shown once"), "a given password is not printed: {out}");

    // Refused: an operator needs his comune; a taken username.
    let refused = vedetta(root, &db, &["users", "add", "luca", "--name", "Luca", "--role", "operator"], None);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("comune"), "{refused:?}");
    let taken = vedetta(root, &db, &["users", "add", "anna.rossi", "--name", "Anna"], None);
    assert!(!taken.status.success());
    assert!(String::from_utf8_lossy(&taken.stderr).contains("taken"), "{taken:?}");

    let list = ok(root, &db, &["users", "list"], None);
    assert!(list.contains("anna.rossi") && list.contains("mario.bianchi"), "{list}");
    assert!(list.contains("civil_protection"), "{list}");
    assert!(!list.contains("argon2"), "{list}");

    let vedetta_http = serve(root, &db);
    let (status, cookie, body) = login(&vedetta_http, "anna.rossi", &generated);
    assert_eq!(status, 200, "{body}");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "{cookie}");
    let session = cookie.split(';').next().unwrap().to_string();
    let csrf = body["csrf_token"].as_str().unwrap().to_string();

    let (status, me) = with_cookie("GET", &vedetta_http.url("/api/auth/whoami"), &session, None);
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["role"], "operator");
    assert_eq!(me["name"], "Anna Rossi");
    assert_eq!(me["grants"].as_array().map(Vec::len), Some(2), "{me}");

    // Signing out needs the CSRF token, then the cookie is dead.
    let (status, _) = with_cookie("POST", &vedetta_http.url("/api/auth/logout"), &session, None);
    assert_eq!(status, 403);
    let (status, _) = with_cookie("POST", &vedetta_http.url("/api/auth/logout"), &session, Some(&csrf));
    assert_eq!(status, 204);
    let (status, _) = with_cookie("GET", &vedetta_http.url("/api/auth/whoami"), &session, None);
    assert_eq!(status, 401);

    // The password from standard input works; disabled on the command line, the account is refused at once.
    assert_eq!(login(&vedetta_http, "mario.bianchi", "una password lunga").0, 200);
    let out = ok(root, &db, &["users", "disable", "mario.bianchi"], None);
    assert!(out.contains("disabled"), "{out}");
    assert_eq!(login(&vedetta_http, "mario.bianchi", "una password lunga").0, 401);
    assert!(!vedetta(root, &db, &["users", "disable", "nessuno"], None).status.success());

    // The server is still healthy.
    assert_eq!(get(&vedetta_http.url("/healthz"), None).0, 200);
}

#[test]
fn a_token_created_on_the_command_line_authenticates_until_revoked() {
    let db = TestDb::new_blocking();
    let root = tempfile::tempdir().unwrap();
    let root = root.path();
    let vedetta_http = serve(root, &db);

    let out = ok(
        root,
        &db,
        &["tokens", "create", "--name", "manutenzione strade", "--role", "operator", "--comune", "010025"],
        None,
    );
    let token = shown_once(&out);
    assert!(token.starts_with("vdt_") && token.len() == 68, "{out}");
    let (status, me) = get(&vedetta_http.url("/api/auth/whoami"), Some(&token));
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["name"], "manutenzione strade");
    assert_eq!(me["role"], "operator");
    assert_eq!(me["grants"], json!([{"role": "operator", "comune": "010025"}]));
    assert_eq!(me["account_id"], Value::Null);

    // A token for an account has the account's grants.
    ok(root, &db, &["users", "add", "giulia.verdi", "--name", "Giulia Verdi", "--role", "planner"], None);
    let out = ok(root, &db, &["tokens", "create", "--name", "app di giulia", "--user", "giulia.verdi"], None);
    let personal = shown_once(&out);
    let (status, me) = get(&vedetta_http.url("/api/auth/whoami"), Some(&personal));
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["name"], "Giulia Verdi");
    assert_eq!(me["role"], "planner");
    assert!(me["account_id"].is_i64(), "{me}");

    // Neither a role nor a user, or both: refused by the command line.
    assert!(!vedetta(root, &db, &["tokens", "create", "--name", "x"], None).status.success());
    assert!(
        !vedetta(
            root,
            &db,
            &["tokens", "create", "--name", "x", "--role", "admin", "--user", "giulia.verdi"],
            None
        )
        .status
        .success()
    );

    let id = me["token_id"].as_i64().unwrap().to_string();
    let out = ok(root, &db, &["tokens", "revoke", &id], None);
    assert!(out.contains("revoked"), "{out}");
    assert_eq!(get(&vedetta_http.url("/api/auth/whoami"), Some(&personal)).0, 401);
    assert_eq!(get(&vedetta_http.url("/api/auth/whoami"), Some(&token)).0, 200, "the other token lives on");
    assert!(!vedetta(root, &db, &["tokens", "revoke", "999999"], None).status.success());
    // The admin sees the tokens over HTTP, never their secrets.
    let (status, list) = get(&vedetta_http.url("/api/tokens"), Some(ADMIN));
    assert_eq!(status, 200);
    assert!(!list.to_string().contains(&token[4..]), "{list}");
}
