//! Accounts, web sessions with CSRF protection, bearer tokens of accounts and roles, and the admins' REST, driven
//! through the router without a socket on a real PostGIS database.

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use sqlx::PgPool;
use testkit::TestDb;
use tower::ServiceExt;
use webmap::auth::account::{self, NewAccount};
use webmap::auth::{Grant, Role};
use webmap::{AppState, router};

const ADMIN: &str = "vdt_test_admin";
const PASSWORD: &str = "correct horse battery";
const GENOVA: &str = "010025";
const PALERMO: &str = "082053";

/// How a request authenticates.
#[derive(Clone, Copy)]
enum As<'a> {
    Nobody,
    Token(&'a str),
    /// The session cookie's secret and, if sent, the CSRF token.
    Session(&'a str, Option<&'a str>),
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    text: String,
    json: Value,
}

async fn send(state: &AppState, method: Method, uri: &str, who: As<'_>, body: Option<Value>) -> Answer {
    let mut request = Request::builder().method(method).uri(uri);
    match who {
        As::Nobody => {}
        As::Token(token) => request = request.header(header::AUTHORIZATION, format!("Bearer {token}")),
        As::Session(secret, csrf) => {
            request = request.header(header::COOKIE, format!("theme=dark; vedetta_session={secret}"));
            if let Some(csrf) = csrf {
                request = request.header("x-csrf-token", csrf);
            }
        }
    }
    let request = match body {
        Some(body) => request
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap(),
        None => request.body(Body::empty()).unwrap(),
    };
    let response = router(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    Answer { status, headers, text, json }
}

async fn setup() -> (TestDb, PgPool, AppState) {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    webmap::auth::ensure_admin_token(&pool, Some(ADMIN)).await.unwrap();
    let state = AppState::new(pool.clone(), vec![], None);
    (db, pool, state)
}

async fn add_account(pool: &PgPool, username: &str, grants: Vec<Grant>) -> i64 {
    let new = NewAccount {
        username: username.into(),
        display_name: format!("{username} (test)"),
        email: Some(format!("{username}@comune.example.it")),
        password: Some(PASSWORD.into()),
        grants,
    };
    account::create(pool, &new).await.unwrap().id
}

async fn login(state: &AppState, username: &str, password: &str) -> Answer {
    send(
        state,
        Method::POST,
        "/api/auth/login",
        As::Nobody,
        Some(json!({"username": username, "password": password})),
    )
    .await
}

/// Signs in; returns the cookie's secret and the CSRF token.
async fn session(state: &AppState, username: &str) -> (String, String) {
    let answer = login(state, username, PASSWORD).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let set_cookie = answer.headers[header::SET_COOKIE].to_str().unwrap();
    let secret = set_cookie.strip_prefix("vedetta_session=").unwrap().split(';').next().unwrap().to_string();
    (secret, answer.json["csrf_token"].as_str().unwrap().to_string())
}

async fn token_for(state: &AppState, body: Value) -> (i64, String) {
    let answer = send(state, Method::POST, "/api/tokens", As::Token(ADMIN), Some(body)).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
    (answer.json["id"].as_i64().unwrap(), answer.json["token"].as_str().unwrap().to_string())
}

fn detail(answer: &Answer) -> &str {
    answer.json["detail"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn sign_in_sets_an_http_only_cookie_that_authenticates_reads() {
    let (_db, pool, state) = setup().await;
    let id = add_account(&pool, "anna.rossi", vec![Grant::new(Role::Operator, Some(GENOVA))]).await;

    // The username is compared case-insensitively.
    let answer = login(&state, "Anna.Rossi", PASSWORD).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let cookie = answer.headers[header::SET_COOKIE].to_str().unwrap().to_string();
    for part in ["vedetta_session=", "HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=43200"] {
        assert!(cookie.contains(part), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain http: {cookie}");
    assert_eq!(answer.json["account"]["id"], id);
    assert_eq!(answer.json["account"]["grants"], json!([{"role": "operator", "comune": GENOVA}]));
    assert!(!answer.text.contains("argon2") && !answer.text.contains("password_hash"), "{}", answer.text);
    let csrf = answer.json["csrf_token"].as_str().unwrap();
    assert_eq!(csrf.len(), 64);

    let (secret, csrf) = session(&state, "anna.rossi").await;
    let me = send(&state, Method::GET, "/api/auth/whoami", As::Session(&secret, None), None).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.text);
    assert_eq!(me.json["account_id"], id);
    assert_eq!(me.json["name"], "anna.rossi (test)");
    assert_eq!(me.json["role"], "operator");
    assert_eq!(me.json["grants"], json!([{"role": "operator", "comune": GENOVA}]));
    assert_eq!(me.json["csrf_token"], csrf, "the web app recovers its CSRF token after a reload");
    // Only the hash of the cookie's secret is stored.
    let stored: Vec<u8> =
        sqlx::query_scalar("select id_sha256 from core.session limit 1").fetch_one(&pool).await.unwrap();
    assert_eq!(stored.len(), 32);

    // Served over https, the cookie is Secure.
    let https =
        AppState::new(pool.clone(), vec![], None).with_public_url("https://vedetta.comune.example.it");
    let answer = login(&https, "anna.rossi", PASSWORD).await;
    assert!(answer.headers[header::SET_COOKIE].to_str().unwrap().contains("; Secure"));

    // A cookie that is no session is refused, not ignored.
    let stale = send(&state, Method::GET, "/api/auth/whoami", As::Session("0badc0de", None), None).await;
    assert_eq!(stale.status, StatusCode::UNAUTHORIZED);
    assert!(detail(&stale).contains("sign in again"), "{}", stale.text);
}

#[tokio::test]
async fn unsafe_requests_with_the_cookie_need_the_csrf_token() {
    let (_db, pool, state) = setup().await;
    add_account(&pool, "admin.rossi", vec![Grant::new(Role::Admin, None)]).await;
    let (secret, csrf) = session(&state, "admin.rossi").await;
    let body = json!({"name": "manutenzione", "role": "operator", "comuni": [GENOVA]});

    let without =
        send(&state, Method::POST, "/api/tokens", As::Session(&secret, None), Some(body.clone())).await;
    assert_eq!(without.status, StatusCode::FORBIDDEN, "{}", without.text);
    assert!(detail(&without).contains("X-CSRF-Token"), "{}", without.text);
    let wrong =
        send(&state, Method::POST, "/api/tokens", As::Session(&secret, Some("nope")), Some(body.clone()))
            .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    let tokens: i64 =
        sqlx::query_scalar("select count(*) from core.api_token").fetch_one(&pool).await.unwrap();
    assert_eq!(tokens, 1, "nothing was created");

    let with = send(&state, Method::POST, "/api/tokens", As::Session(&secret, Some(&csrf)), Some(body)).await;
    assert_eq!(with.status, StatusCode::CREATED, "{}", with.text);
    // Reads need no CSRF token.
    let read = send(&state, Method::GET, "/api/tokens", As::Session(&secret, None), None).await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.text);
    // Bearer tokens are not sent by browsers on their own: no CSRF token needed.
    let bearer = send(
        &state,
        Method::POST,
        "/api/tokens",
        As::Token(ADMIN),
        Some(json!({"name": "x", "role": "planner"})),
    )
    .await;
    assert_eq!(bearer.status, StatusCode::CREATED, "{}", bearer.text);
}

#[tokio::test]
async fn logout_ends_the_session() {
    let (_db, pool, state) = setup().await;
    add_account(&pool, "anna.rossi", vec![Grant::new(Role::Citizen, None)]).await;
    let (secret, csrf) = session(&state, "anna.rossi").await;
    let (other, _) = session(&state, "anna.rossi").await;

    let refused = send(&state, Method::POST, "/api/auth/logout", As::Session(&secret, None), None).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "a forged sign-out needs the CSRF token");
    let out = send(&state, Method::POST, "/api/auth/logout", As::Session(&secret, Some(&csrf)), None).await;
    assert_eq!(out.status, StatusCode::NO_CONTENT, "{}", out.text);
    let cleared = out.headers[header::SET_COOKIE].to_str().unwrap();
    assert!(cleared.starts_with("vedetta_session=;") && cleared.contains("Max-Age=0"), "{cleared}");

    let after = send(&state, Method::GET, "/api/auth/whoami", As::Session(&secret, None), None).await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
    // The other session of the same account lives on.
    let still = send(&state, Method::GET, "/api/auth/whoami", As::Session(&other, None), None).await;
    assert_eq!(still.status, StatusCode::OK);
    // Signing out again (a stale cookie) just clears the cookie.
    let again = send(&state, Method::POST, "/api/auth/logout", As::Session(&secret, None), None).await;
    assert_eq!(again.status, StatusCode::NO_CONTENT);
    let sessions: i64 =
        sqlx::query_scalar("select count(*) from core.session").fetch_one(&pool).await.unwrap();
    assert_eq!(sessions, 1);
}

#[tokio::test]
async fn an_unknown_user_and_a_wrong_password_get_the_same_401() {
    let (_db, pool, state) = setup().await;
    add_account(&pool, "anna.rossi", vec![]).await;
    let wrong = login(&state, "anna.rossi", "not the password").await;
    let unknown = login(&state, "nobody", PASSWORD).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert_eq!(detail(&wrong), detail(&unknown));
    assert!(wrong.headers.get(header::SET_COOKIE).is_none());
    // An account without a password cannot sign in with any.
    let new = NewAccount {
        username: "integration".into(),
        display_name: "Integrazione".into(),
        email: None,
        password: None,
        grants: vec![],
    };
    account::create(&pool, &new).await.unwrap();
    assert_eq!(login(&state, "integration", "").await.status, StatusCode::UNAUTHORIZED);
    // A malformed body is a problem, not a crash.
    let bad = send(&state, Method::POST, "/api/auth/login", As::Nobody, Some(json!({"username": "x"}))).await;
    assert!(bad.status.is_client_error(), "{}", bad.text);
}

#[tokio::test]
async fn a_disabled_account_can_neither_sign_in_nor_use_its_session_or_tokens() {
    let (_db, pool, state) = setup().await;
    let id = add_account(&pool, "mario.bianchi", vec![Grant::new(Role::Operator, Some(GENOVA))]).await;
    let (secret, _) = session(&state, "mario.bianchi").await;
    let (_, token) = token_for(&state, json!({"name": "script di mario", "account_id": id})).await;
    assert_eq!(
        send(&state, Method::GET, "/api/auth/whoami", As::Token(&token), None).await.status,
        StatusCode::OK
    );

    let patch = send(
        &state,
        Method::PATCH,
        &format!("/api/users/{id}"),
        As::Token(ADMIN),
        Some(json!({"disabled": true})),
    )
    .await;
    assert_eq!(patch.status, StatusCode::OK, "{}", patch.text);
    assert!(patch.json["disabled_at"].is_string());

    let answer = login(&state, "mario.bianchi", PASSWORD).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert!(detail(&answer).contains("disabled"), "{}", answer.text);
    let by_cookie = send(&state, Method::GET, "/api/auth/whoami", As::Session(&secret, None), None).await;
    assert_eq!(by_cookie.status, StatusCode::UNAUTHORIZED);
    let by_token = send(&state, Method::GET, "/api/auth/whoami", As::Token(&token), None).await;
    assert_eq!(by_token.status, StatusCode::UNAUTHORIZED);
    assert!(detail(&by_token).contains("disabled"), "{}", by_token.text);

    // Enabled again: the token works again; the session was closed for good.
    let patch = send(
        &state,
        Method::PATCH,
        &format!("/api/users/{id}"),
        As::Token(ADMIN),
        Some(json!({"disabled": false})),
    )
    .await;
    assert!(patch.json["disabled_at"].is_null(), "{}", patch.text);
    assert_eq!(
        send(&state, Method::GET, "/api/auth/whoami", As::Token(&token), None).await.status,
        StatusCode::OK
    );
    let by_cookie = send(&state, Method::GET, "/api/auth/whoami", As::Session(&secret, None), None).await;
    assert_eq!(by_cookie.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn too_many_sign_in_attempts_are_refused_with_retry_after() {
    let (_db, pool, state) = setup().await;
    add_account(&pool, "anna.rossi", vec![]).await;
    add_account(&pool, "mario.bianchi", vec![]).await;
    for attempt in 0..webmap::auth::session::LOGIN_PER_USER {
        let answer = login(&state, "anna.rossi", &format!("guess number {attempt}")).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "attempt {attempt}: {}", answer.text);
    }
    // Past the limit even the right password waits.
    let limited = login(&state, "ANNA.ROSSI", PASSWORD).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS, "{}", limited.text);
    let retry: u64 = limited.headers[header::RETRY_AFTER].to_str().unwrap().parse().unwrap();
    assert!((1..=900).contains(&retry), "{retry}");
    assert!(detail(&limited).contains("too many"), "{}", limited.text);
    assert_eq!(limited.json["status"], 429);
    // Another username is not held up.
    assert_eq!(login(&state, "mario.bianchi", PASSWORD).await.status, StatusCode::OK);
    // Once the window has passed, the user may sign in; success forgets the failed attempts.
    sqlx::query("update core.rate_event set at = at - interval '16 minutes'").execute(&pool).await.unwrap();
    assert_eq!(login(&state, "anna.rossi", PASSWORD).await.status, StatusCode::OK);
    let left: i64 = sqlx::query_scalar("select count(*) from core.rate_event where key = 'user:anna.rossi'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(left, 0);
}

#[tokio::test]
async fn a_token_of_an_account_has_the_account_s_grants() {
    let (_db, pool, state) = setup().await;
    let id = add_account(
        &pool,
        "giulia.verdi",
        vec![Grant::new(Role::Operator, Some(GENOVA)), Grant::new(Role::Councillor, Some(PALERMO))],
    )
    .await;
    let (token_id, token) = token_for(&state, json!({"name": "app di giulia", "account_id": id})).await;
    let me = send(&state, Method::GET, "/api/auth/whoami", As::Token(&token), None).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.text);
    assert_eq!(me.json["account_id"], id);
    assert_eq!(me.json["token_id"], token_id);
    assert_eq!(me.json["role"], "operator");
    assert_eq!(me.json["name"], "giulia.verdi (test)");
    let mut grants = me.json["grants"].as_array().unwrap().clone();
    grants.sort_by_key(|g| g["role"].to_string());
    assert_eq!(
        grants,
        [json!({"role": "councillor", "comune": PALERMO}), json!({"role": "operator", "comune": GENOVA})]
    );
    assert!(me.json.get("csrf_token").is_none(), "tokens have no CSRF token");

    // New grants apply at once.
    let patch = send(
        &state,
        Method::PATCH,
        &format!("/api/users/{id}"),
        As::Token(ADMIN),
        Some(json!({"grants": [{"role": "civil_protection"}]})),
    )
    .await;
    assert_eq!(patch.status, StatusCode::OK, "{}", patch.text);
    let me = send(&state, Method::GET, "/api/auth/whoami", As::Token(&token), None).await;
    assert_eq!(me.json["role"], "civil_protection");
    assert_eq!(me.json["grants"], json!([{"role": "civil_protection", "comune": null}]));

    // A token with a role on comuni has that role there.
    let (_, integration) =
        token_for(&state, json!({"name": "manutenzione", "role": "operator", "comuni": [GENOVA, PALERMO]}))
            .await;
    let me = send(&state, Method::GET, "/api/auth/whoami", As::Token(&integration), None).await;
    assert_eq!(me.json["account_id"], Value::Null);
    assert_eq!(me.json["name"], "manutenzione");
    assert_eq!(
        me.json["grants"],
        json!([{"role": "operator", "comune": GENOVA}, {"role": "operator", "comune": PALERMO}])
    );
    // The configured admin token holds on every comune.
    let me = send(&state, Method::GET, "/api/auth/whoami", As::Token(ADMIN), None).await;
    assert_eq!(me.json["grants"], json!([{"role": "admin", "comune": null}]));
}

#[tokio::test]
async fn a_revoked_token_is_refused_and_secrets_are_never_listed() {
    let (_db, _pool, state) = setup().await;
    let (id, token) = token_for(&state, json!({"name": "da revocare", "role": "planner"})).await;
    assert_eq!(
        send(&state, Method::GET, "/api/auth/whoami", As::Token(&token), None).await.status,
        StatusCode::OK
    );

    let list = send(&state, Method::GET, "/api/tokens", As::Token(ADMIN), None).await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(!list.text.contains(&token[4..]), "{}", list.text);
    assert_eq!(list.json["total"], 2);
    let listed = list.json["tokens"].as_array().unwrap().iter().find(|t| t["id"] == id).unwrap().clone();
    assert_eq!(listed["role"], "planner");
    assert!(listed["last_used_at"].is_string());

    let revoked = send(&state, Method::DELETE, &format!("/api/tokens/{id}"), As::Token(ADMIN), None).await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT, "{}", revoked.text);
    let refused = send(&state, Method::GET, "/api/auth/whoami", As::Token(&token), None).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(refused.json["status"], 401);
    assert_eq!(
        send(&state, Method::DELETE, &format!("/api/tokens/{id}"), As::Token(ADMIN), None).await.status,
        StatusCode::NO_CONTENT,
        "revoking again is fine"
    );
    assert_eq!(
        send(&state, Method::DELETE, "/api/tokens/999999", As::Token(ADMIN), None).await.status,
        StatusCode::NOT_FOUND
    );
    let list = send(&state, Method::GET, "/api/tokens?limit=1&offset=1", As::Token(ADMIN), None).await;
    assert!(list.json["tokens"][0]["revoked_at"].is_string(), "{}", list.text);
}

#[tokio::test]
async fn require_keeps_the_order_of_roles() {
    let (_db, _pool, state) = setup().await;
    // GET /api/ingest/dead-letters needs the operator role; /api/users the admin one.
    let (_, operator) =
        token_for(&state, json!({"name": "op", "role": "operator", "comuni": [GENOVA]})).await;
    let (_, civil) = token_for(&state, json!({"name": "pc", "role": "civil_protection"})).await;
    let (_, planner) = token_for(&state, json!({"name": "pl", "role": "planner"})).await;
    let (_, councillor) =
        token_for(&state, json!({"name": "co", "role": "councillor", "comuni": [GENOVA]})).await;
    for (token, expected) in [
        (operator.as_str(), StatusCode::OK),
        (civil.as_str(), StatusCode::OK),
        (ADMIN, StatusCode::OK),
        (planner.as_str(), StatusCode::FORBIDDEN),
        (councillor.as_str(), StatusCode::FORBIDDEN),
    ] {
        let answer = send(&state, Method::GET, "/api/ingest/dead-letters", As::Token(token), None).await;
        assert_eq!(answer.status, expected, "{}", answer.text);
    }
    let refused = send(&state, Method::GET, "/api/ingest/dead-letters", As::Token(&planner), None).await;
    assert!(detail(&refused).contains("operator"), "{}", refused.text);
    for token in [&operator, &civil] {
        assert_eq!(
            send(&state, Method::GET, "/api/users", As::Token(token), None).await.status,
            StatusCode::FORBIDDEN
        );
    }
    let nobody = send(&state, Method::GET, "/api/users", As::Nobody, None).await;
    assert_eq!(nobody.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn admins_manage_accounts_with_validated_fields() {
    let (_db, pool, state) = setup().await;
    let create = |body: Value| {
        let state = state.clone();
        async move { send(&state, Method::POST, "/api/users", As::Token(ADMIN), Some(body)).await }
    };
    let valid = json!({
        "username": "Luca.Neri",
        "display_name": "Luca Neri",
        "email": "luca.neri@comune.genova.it",
        "password": "una password lunga",
        "grants": [{"role": "operator", "comune": GENOVA}, {"role": "planner"}]
    });
    let created = create(valid.clone()).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    assert_eq!(created.json["username"], "luca.neri");
    assert_eq!(created.json["has_password"], true);
    assert!(!created.text.contains("argon2") && !created.text.contains("una password"), "{}", created.text);
    let id = created.json["id"].as_i64().unwrap();
    let stored: String = sqlx::query_scalar("select password_hash from core.account where id = $1")
        .bind(id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(stored.starts_with("$argon2id$"), "{stored}");

    assert_eq!(create(valid.clone()).await.status, StatusCode::CONFLICT, "the username is taken");
    for (field, value, phrase) in [
        ("grants", json!([{"role": "operator"}]), "comune"),
        ("grants", json!([{"role": "councillor", "comune": "10025"}]), "ISTAT"),
        ("grants", json!([{"role": "admin", "comune": GENOVA}]), "every comune"),
        ("password", json!("corta"), "10 characters"),
        ("username", json!("-no"), "username"),
        ("email", json!("not an email"), "email"),
        ("display_name", json!(" "), "display_name"),
    ] {
        let mut body = valid.clone();
        body["username"] = json!("other.user");
        body[field] = value;
        let answer = create(body).await;
        assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {}", answer.text);
        assert!(detail(&answer).contains(phrase), "{field}: {}", answer.text);
    }
    let unknown_role =
        create(json!({"username": "x1", "display_name": "X", "grants": [{"role": "mayor"}]})).await;
    assert!(unknown_role.status.is_client_error(), "{}", unknown_role.text);

    let got = send(&state, Method::GET, &format!("/api/users/{id}"), As::Token(ADMIN), None).await;
    assert_eq!(got.json["email"], "luca.neri@comune.genova.it");
    let patched = send(
        &state,
        Method::PATCH,
        &format!("/api/users/{id}"),
        As::Token(ADMIN),
        Some(json!({"email": "", "display_name": "Luca Neri (PC)", "password": "un'altra password lunga"})),
    )
    .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text);
    assert_eq!(patched.json["email"], Value::Null);
    assert_eq!(patched.json["display_name"], "Luca Neri (PC)");
    assert_eq!(login(&state, "luca.neri", "un'altra password lunga").await.status, StatusCode::OK);
    assert_eq!(login(&state, "luca.neri", "una password lunga").await.status, StatusCode::UNAUTHORIZED);

    let list = send(&state, Method::GET, "/api/users?limit=10", As::Token(ADMIN), None).await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.json["total"], 1);
    assert_eq!(list.json["accounts"][0]["id"], id);
    assert!(!list.text.contains("argon2"));
    assert_eq!(
        send(&state, Method::GET, "/api/users?limit=1001", As::Token(ADMIN), None).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        send(&state, Method::GET, "/api/users/424242", As::Token(ADMIN), None).await.status,
        StatusCode::NOT_FOUND
    );
    let missing =
        send(&state, Method::PATCH, "/api/users/424242", As::Token(ADMIN), Some(json!({"disabled": true})))
            .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn tokens_are_created_with_a_role_or_for_an_account_never_both() {
    let (_db, pool, state) = setup().await;
    let id = add_account(&pool, "anna.rossi", vec![Grant::new(Role::Planner, None)]).await;
    for (body, phrase) in [
        (json!({"name": "x", "role": "operator"}), "comuni"),
        (json!({"name": "x", "role": "operator", "comuni": ["genova"]}), "ISTAT"),
        (json!({"name": "x", "role": "admin", "comuni": [GENOVA]}), "every comune"),
        (json!({"name": "x", "role": "planner", "account_id": id}), "account"),
        (json!({"name": "x"}), "role"),
        (json!({"name": " ", "role": "planner"}), "name"),
        (json!({"name": "x", "account_id": 424242}), "no account"),
    ] {
        let answer = send(&state, Method::POST, "/api/tokens", As::Token(ADMIN), Some(body.clone())).await;
        assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {}", answer.text);
        assert!(detail(&answer).contains(phrase), "{body}: {}", answer.text);
    }
    let (token_id, _) = token_for(&state, json!({"name": "di anna", "account_id": id})).await;
    let info = send(&state, Method::GET, "/api/tokens", As::Token(ADMIN), None).await;
    let listed =
        info.json["tokens"].as_array().unwrap().iter().find(|t| t["id"] == token_id).unwrap().clone();
    assert_eq!(listed["account_id"], id);
    assert_eq!(listed["role"], "planner");
}

#[tokio::test]
async fn an_optional_caller_is_none_without_credentials_and_refused_with_bad_ones() {
    use axum::routing::get;
    let (_db, pool, state) = setup().await;
    add_account(&pool, "anna.rossi", vec![Grant::new(Role::Councillor, Some(GENOVA))]).await;
    let (secret, csrf) = session(&state, "anna.rossi").await;
    async fn probe(caller: Option<webmap::Caller>) -> String {
        caller.map_or("nobody".into(), |c| format!("{} {:?}", c.role, c.access.councillor_comuni()))
    }
    let app = axum::Router::new().route("/probe", get(probe).post(probe)).with_state(state.clone());
    let call = |method: Method, headers: Vec<(&'static str, String)>| {
        let app = app.clone();
        async move {
            let mut request = Request::builder().method(method).uri("/probe");
            for (name, value) in headers {
                request = request.header(name, value);
            }
            let response = app.oneshot(request.body(Body::empty()).unwrap()).await.unwrap();
            let status = response.status();
            let bytes = response.into_body().collect().await.unwrap().to_bytes();
            (status, String::from_utf8_lossy(&bytes).into_owned())
        }
    };
    assert_eq!(call(Method::GET, vec![]).await, (StatusCode::OK, "nobody".into()));
    assert_eq!(
        call(Method::POST, vec![("cookie", "theme=dark".into())]).await,
        (StatusCode::OK, "nobody".into())
    );
    let cookie = format!("vedetta_session={secret}");
    assert_eq!(
        call(Method::GET, vec![("cookie", cookie.clone())]).await,
        (StatusCode::OK, format!("councillor [\"{GENOVA}\"]"))
    );
    assert_eq!(call(Method::POST, vec![("cookie", cookie.clone())]).await.0, StatusCode::FORBIDDEN);
    assert_eq!(call(Method::POST, vec![("cookie", cookie), ("x-csrf-token", csrf)]).await.0, StatusCode::OK);
    assert_eq!(call(Method::GET, vec![("authorization", format!("Bearer {ADMIN}"))]).await.1, "admin []");
    for bad in [
        ("authorization", "Bearer vdt_unknown".to_string()),
        ("authorization", "Basic YTpi".to_string()),
        ("cookie", "vedetta_session=expired".to_string()),
    ] {
        assert_eq!(call(Method::GET, vec![bad.clone()]).await.0, StatusCode::UNAUTHORIZED, "{bad:?}");
    }
    // An expired session is refused too.
    sqlx::query("update core.session set expires_at = now() - interval '1 second'")
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(
        call(Method::GET, vec![("cookie", format!("vedetta_session={secret}"))]).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn admins_cannot_lock_themselves_out() {
    let (_db, pool, state) = setup().await;
    let id = add_account(&pool, "admin.rossi", vec![Grant::new(Role::Admin, None)]).await;
    let (secret, csrf) = session(&state, "admin.rossi").await;
    for body in [json!({"disabled": true}), json!({"grants": []})] {
        let answer = send(
            &state,
            Method::PATCH,
            &format!("/api/users/{id}"),
            As::Session(&secret, Some(&csrf)),
            Some(body),
        )
        .await;
        assert_eq!(answer.status, StatusCode::CONFLICT, "{}", answer.text);
    }
    let me = send(&state, Method::GET, "/api/auth/whoami", As::Token(ADMIN), None).await;
    let own = me.json["token_id"].as_i64().unwrap();
    let answer = send(&state, Method::DELETE, &format!("/api/tokens/{own}"), As::Token(ADMIN), None).await;
    assert_eq!(answer.status, StatusCode::CONFLICT, "{}", answer.text);
    assert_eq!(
        send(&state, Method::GET, "/api/auth/whoami", As::Token(ADMIN), None).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn an_account_of_an_identity_provider_gets_a_session_without_a_password() {
    let (_db, pool, state) = setup().await;
    let new = NewAccount {
        username: "spid.rssmra80a01d969x".into(),
        display_name: "Mario Rossi".into(),
        email: None,
        password: None,
        grants: vec![Grant::new(Role::Citizen, None)],
    };
    let id = account::create(&pool, &new).await.unwrap().id;
    let issuer = "https://idp.example.it/realms/spid";
    assert!(account::link_external(&pool, id, issuer, "RSSMRA80A01D969X").await.unwrap());
    let other = add_account(&pool, "anna.rossi", vec![]).await;
    let taken = account::link_external(&pool, other, issuer, "RSSMRA80A01D969X").await.unwrap_err();
    assert_eq!(taken.status(), StatusCode::CONFLICT);

    // What a provider's callback does once it has verified the ID token: find the account, open a session.
    let found = account::by_external(&pool, issuer, "RSSMRA80A01D969X").await.unwrap().unwrap();
    assert_eq!((found.id, found.has_password, found.external_issuer.as_deref()), (id, false, Some(issuer)));
    assert!(account::by_external(&pool, issuer, "nobody").await.unwrap().is_none());
    let (secret, csrf, _) = webmap::auth::session::open(&pool, id).await.unwrap();
    let me = send(&state, Method::GET, "/api/auth/whoami", As::Session(&secret, None), None).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.text);
    assert_eq!(
        (me.json["name"].as_str(), me.json["csrf_token"].as_str()),
        (Some("Mario Rossi"), Some(csrf.as_str()))
    );
    // No password sign-in for it.
    assert_eq!(login(&state, "spid.rssmra80a01d969x", "").await.status, StatusCode::UNAUTHORIZED);
}
