//! SMH token API (docs/smh-api.md §2), the per-call token checks, spaces (§3) and the token hooks.

mod common;
mod support;

use reqwest::Method;
use serde_json::json;
use support::{assert_smh_error, json_of, Env};

#[tokio::test]
async fn token_api_mint_renew_delete() {
    let env = Env::start(&[]).await;
    let secret = env.server.library_secret();
    let mint = format!("{}/api/v1/token", env.smh());

    // GET and POST both mint; the shape is {accessToken, expiresIn}.
    for method in [Method::GET, Method::POST] {
        let r = env
            .http
            .request(method, &mint)
            .query(&[
                ("library_id", env.lib.as_str()),
                ("library_secret", &secret),
                ("grant", "upload_file"),
                ("period", "600"),
            ])
            .send()
            .await
            .unwrap();
        let (status, body) = json_of(r).await;
        assert_eq!(status, 200);
        assert!(body["accessToken"].as_str().unwrap().starts_with("acctk"));
        assert_eq!(body["expiresIn"], 600);
    }
    // Invalid period → 24 h.
    let r = env
        .http
        .get(&mint)
        .query(&[("library_id", env.lib.as_str()), ("library_secret", &secret), ("period", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(r).await.1["expiresIn"], 86400);

    // Empty* and wrong secret.
    type Case<'a> = (&'a [(&'a str, &'a str)], u16, &'a str);
    let cases: [Case; 4] = [
        (&[], 400, "EmptyLibraryIdOrSecret"),
        (&[("library_secret", "x")], 400, "EmptyLibraryId"),
        (&[("library_id", "smhx")], 400, "EmptyLibrarySecret"),
        (&[("library_id", "smhx"), ("library_secret", "nope")], 404, "WrongLibraryIdOrSecret"),
    ];
    for (query, status, code) in cases {
        assert_smh_error(env.http.get(&mint).query(query).send().await.unwrap(), status, code).await;
    }
    let r = env
        .http
        .get(&mint)
        .query(&[("library_id", env.lib.as_str()), ("library_secret", &secret), ("grant", "fly")])
        .send()
        .await
        .unwrap();
    assert_smh_error(r, 400, "ParamInvalid").await;

    // Renew returns the same token; delete makes it invalid.
    let token = env.token(json!({ "period": 100 })).await;
    let renew_url = format!("{}/api/v1/token/{}/{token}", env.smh(), env.lib);
    let (status, body) = json_of(env.http.post(&renew_url).send().await.unwrap()).await;
    assert_eq!((status.as_u16(), body["accessToken"].as_str()), (200, Some(token.as_str())));
    assert_eq!(body["expiresIn"], 100);
    let r = env.http.delete(&renew_url).send().await.unwrap();
    assert_eq!(r.status(), 204);
    let r = env.req(Method::GET, &env.dir_url(""), &token, &[]).send().await.unwrap();
    assert_smh_error(r, 403, "InvalidAccessToken").await;
    assert_smh_error(env.http.post(&renew_url).send().await.unwrap(), 403, "InvalidAccessToken").await;
    // The log never shows the token that sits in renew/delete paths.
    let log = env.http.get(format!("{}/_dev/log", env.app())).send().await.unwrap().text().await.unwrap();
    assert!(log.contains("/api/v1/token/") && !log.contains(&token), "{log}");

    // Delete all tokens of a user (needs the secret).
    let alice = env.token(json!({ "userId": "alice" })).await;
    let bob = env.token(json!({ "userId": "bob" })).await;
    let user_url = format!("{}/api/v1/token/{}", env.smh(), env.lib);
    let r = env.http.delete(&user_url).query(&[("library_secret", "nope"), ("user_id", "alice")]).send().await.unwrap();
    assert_smh_error(r, 404, "WrongLibraryIdOrSecret").await;
    let r = env
        .http
        .delete(&user_url)
        .query(&[("library_secret", secret.as_str()), ("user_id", "alice")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = env.req(Method::GET, &env.dir_url(""), &alice, &[]).send().await.unwrap();
    assert_eq!(r.status(), 403);
    let r = env.req(Method::GET, &env.dir_url(""), &bob, &[]).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn token_checks_on_every_call() {
    let env = Env::start(&[]).await;
    let list = env.dir_url("");
    // Absent token.
    assert_smh_error(env.http.get(&list).send().await.unwrap(), 400, "EmptyAccessToken").await;
    assert_smh_error(env.http.get(&list).query(&[("access_token", "")]).send().await.unwrap(), 400, "EmptyAccessToken")
        .await;
    // Malformed / unknown token.
    for bad in ["garbage", "acctk%00", "acctk0000000000000000000000000000000000000000000"] {
        let r = env.req(Method::GET, &list, bad, &[]).send().await.unwrap();
        assert_smh_error(r, 403, "InvalidAccessToken").await;
    }
    // Bearer header works as well as the query parameter.
    let r = env.http.get(&list).bearer_auth(&env.admin).send().await.unwrap();
    assert_eq!(r.status(), 200);
    // A token of another library (another devserver) and a URL naming another library.
    let other = Env::start(&[]).await;
    let r = env.req(Method::GET, &list, &other.admin, &[]).send().await.unwrap();
    assert_smh_error(r, 403, "InvalidAccessToken").await;
    let foreign = format!("{}/api/v1/directory/{}/-/", env.smh(), other.lib);
    assert_smh_error(env.req(Method::GET, &foreign, &env.admin, &[]).send().await.unwrap(), 403, "InvalidAccessToken")
        .await;
    // Unknown space in a single-tenant library.
    let r = env
        .req(Method::GET, &format!("{}/api/v1/directory/{}/space1/", env.smh(), env.lib), &env.admin, &[])
        .send()
        .await
        .unwrap();
    assert_smh_error(r, 404, "SpaceNotFound").await;
    // Grants: a read-only token may list but not create or upload.
    let reader = env.token(json!({ "grant": "" })).await;
    assert_eq!(env.req(Method::GET, &list, &reader, &[]).send().await.unwrap().status(), 200);
    let r = env.req(Method::PUT, &env.dir_url("d"), &reader, &[]).send().await.unwrap();
    assert_smh_error(r, 403, "NoPermission").await;
    let r = env.req(Method::PUT, &env.file_url("a.bin"), &reader, &[]).send().await.unwrap();
    assert_smh_error(r, 403, "NoPermission").await;
    // upload_file without a force grant may not overwrite (unconfirmed:
    // docs/devserver-fidelity.md#smh-force-grants).
    let uploader = env.token(json!({ "grant": "upload_file" })).await;
    let r = env
        .req(Method::PUT, &env.file_url("a.bin"), &uploader, &[("conflict_resolution_strategy", "overwrite")])
        .send()
        .await
        .unwrap();
    assert_smh_error(r, 403, "NoPermission").await;
    let r = env.req(Method::PUT, &env.file_url("a.bin"), &uploader, &[]).send().await.unwrap();
    assert_eq!(r.status(), 201);
    // Messages never echo the token.
    let r = env.req(Method::GET, &list, "acctksecretvalue", &[]).send().await.unwrap();
    assert!(!r.text().await.unwrap().contains("secretvalue"));
}

#[tokio::test]
async fn sliding_expiry_and_expire_hook() {
    let env = Env::start(&[]).await;
    let token = env.token(json!({ "period": 2 })).await;
    let list = env.dir_url("");
    // Used every second for 3 s: each use slides the 2 s expiry.
    for _ in 0..3 {
        tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
        assert_eq!(env.req(Method::GET, &list, &token, &[]).send().await.unwrap().status(), 200);
    }
    tokio::time::sleep(std::time::Duration::from_millis(2300)).await;
    assert_smh_error(env.req(Method::GET, &list, &token, &[]).send().await.unwrap(), 403, "InvalidAccessToken").await;

    // The hook: one token, then all.
    let a = env.token(json!({})).await;
    let b = env.token(json!({})).await;
    let (status, body) = env.dev_post("tokens/expire", json!({ "accessToken": a })).await;
    assert_eq!((status.as_u16(), body["expired"].as_u64()), (200, Some(1)));
    assert_eq!(env.req(Method::GET, &list, &a, &[]).send().await.unwrap().status(), 403);
    assert_eq!(env.req(Method::GET, &list, &b, &[]).send().await.unwrap().status(), 200);
    env.dev_post("tokens/expire", json!({})).await;
    assert_eq!(env.req(Method::GET, &list, &b, &[]).send().await.unwrap().status(), 403);
}

#[tokio::test]
async fn spaces_multi_tenant() {
    let env = Env::start(&["--multi-tenant"]).await;
    assert!(env.space.starts_with("space"), "first space reported: {}", env.space);
    let create = format!("{}/api/v1/space/{}", env.smh(), env.lib);
    // The admin token (minted without space) creates spaces.
    let (status, body) =
        json_of(env.req(Method::POST, &create, &env.admin, &[]).json(&json!({})).send().await.unwrap()).await;
    assert_eq!(status, 201);
    let second = body["spaceId"].as_str().unwrap().to_string();
    // A token bound to the first space (the /token default) works there only.
    let bound = env.token(json!({})).await;
    assert_eq!(env.req(Method::GET, &env.dir_url(""), &bound, &[]).send().await.unwrap().status(), 200);
    let other = format!("{}/api/v1/directory/{}/{second}/", env.smh(), env.lib);
    assert_smh_error(env.req(Method::GET, &other, &bound, &[]).send().await.unwrap(), 403, "AccessTokenNotMatchSpace")
        .await;
    assert_smh_error(env.req(Method::POST, &create, &bound, &[]).send().await.unwrap(), 403, "NoPermission").await;
    // Token bound to the second space by the page.
    let second_token = env.token(json!({ "spaceId": second })).await;
    assert_eq!(env.req(Method::GET, &other, &second_token, &[]).send().await.unwrap().status(), 200);
    // `-` does not exist in a multi-tenant library; unknown spaces are 404 (admin) at mint too.
    let dash = format!("{}/api/v1/directory/{}/-/", env.smh(), env.lib);
    assert_smh_error(env.req(Method::GET, &dash, &env.admin, &[]).send().await.unwrap(), 404, "SpaceNotFound").await;
    let r =
        env.http.post(format!("{}/token", env.app())).json(&json!({ "spaceId": "spacenope" })).send().await.unwrap();
    assert_smh_error(r, 404, "SpaceNotFound").await;

    // Uploads land in the space's own key prefix.
    let (status, info) = env.upload_simple("t.bin", b"tenant", &[]).await;
    assert_eq!((status.as_u16(), info["path"].clone()), (200, json!(["t.bin"])));
    let objects = env.objects().await;
    assert_eq!(objects[0]["spaceId"], env.space);
    assert!(objects[0]["key"].as_str().unwrap().starts_with(&format!("{}/{}/", env.lib, env.space)));

    // Single-tenant library: space API → 400 NotMultiSpaceLibrary.
    let single = Env::start(&[]).await;
    let r = single
        .req(Method::POST, &format!("{}/api/v1/space/{}", single.smh(), single.lib), &single.admin, &[])
        .send()
        .await
        .unwrap();
    assert_smh_error(r, 400, "NotMultiSpaceLibrary").await;
}
