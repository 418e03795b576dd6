use crate::helpers::*;

on_both_engines!(
    every_response_carries_a_request_id,
    |app: TestApp| async move {
        let r = app.send("GET", "/healthz", None, None).await;
        assert!(r.request_id.as_deref().is_some_and(|id| id.len() >= 16));
        let res = app
            .client
            .get(format!("{}/nowhere", app.base))
            .header("x-request-id", "abc-123")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404);
        assert_eq!(res.headers()["x-request-id"], "abc-123");
        assert_eq!(res.headers()["content-type"], "application/problem+json");
    }
);

on_both_engines!(
    wrong_methods_and_paths_are_problems,
    |app: TestApp| async move {
        app.send("DELETE", "/feasibility", Some(&app.admin()), None)
            .await
            .assert_problem(405, "method_not_allowed");
        app.send("GET", "/no/such/path", None, None)
            .await
            .assert_problem(404, "not_found");
    }
);

on_both_engines!(readiness_reports_the_index, |app: TestApp| async move {
    let app = app.with_fixture().await;
    let r = app.send("GET", "/readyz", None, None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["boxes"], 6);
});
