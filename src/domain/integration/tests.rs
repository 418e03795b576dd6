//! Integrations, modules and contacts. Keys and patches are tested beside their code,
//! with the samples below.

use super::*;
use chrono::TimeZone;
use serde_json::json;

pub(super) fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap()
}

/// The contract's example body: every contact given.
pub(super) fn complete_body() -> serde_json::Value {
    json!({"id": "conecte", "name": "Conecte.ai", "projects": ["sp-centro"],
        "modules": ["feasibility", "reservations"],
        "contacts": {"alert": ["alertas@conecte.example"], "emergency": ["+5511999990000"],
            "technical": ["dev@conecte.example"], "operational": ["ops@conecte.example"],
            "operational_public": "suporte@conecte.example"},
        "support_hours": [{"days": ["mon", "tue", "wed", "thu", "fri"], "from": "08:00",
            "to": "18:00", "time_zone": "America/Sao_Paulo"}]})
}

pub(super) fn parse(body: serde_json::Value) -> NewIntegration {
    serde_json::from_value(body).unwrap()
}

/// An active integration with every contact.
pub(super) fn complete() -> Integration {
    parse(complete_body()).validate_at(t0()).unwrap()
}

/// An onboarding integration: no contacts at all.
pub(super) fn onboarding() -> Integration {
    parse(
        json!({"id": "chatbot", "name": "Chatbot", "projects": ["*"], "modules": ["feasibility"]}),
    )
    .validate_at(t0())
    .unwrap()
}

pub(super) fn fields(e: &Invalid) -> Vec<&str> {
    e.0.iter().map(|f| f.field.as_str()).collect()
}

fn refused(body: serde_json::Value) -> Invalid {
    parse(body).validate_at(t0()).unwrap_err()
}

fn with(member: &str, value: serde_json::Value) -> serde_json::Value {
    let mut b = complete_body();
    b[member] = value;
    b
}

fn with_contact(member: &str, value: serde_json::Value) -> serde_json::Value {
    let mut b = complete_body();
    b["contacts"][member] = value;
    b
}

#[test]
fn each_module_grants_the_scopes_the_contract_maps_to_it() {
    use Scope::*;
    let expect: [(Module, &[Scope]); 6] = [
        (Module::Feasibility, &[Feasibility]),
        (Module::Reservations, &[ReservationsWrite, ReservationsRead]),
        (
            Module::ReservationsManage,
            &[ReservationsManage, ReservationsRead],
        ),
        (Module::Inventory, &[InventoryWrite]),
        (Module::Events, &[Events]),
        (Module::Demand, &[DemandRead]),
    ];
    for (m, scopes) in expect {
        assert_eq!(m.scopes(), scopes, "{m:?}");
    }
}

#[test]
fn no_module_grants_admin() {
    assert!(!granted(&Module::ALL).contains(&Scope::Admin));
    let all_but_admin: BTreeSet<Scope> = Scope::ALL
        .into_iter()
        .filter(|s| *s != Scope::Admin)
        .collect();
    assert_eq!(granted(&Module::ALL), all_but_admin);
}

#[test]
fn granted_scopes_are_the_union_of_the_modules() {
    let g = granted(&[Module::Reservations, Module::ReservationsManage]);
    assert_eq!(
        g.into_iter().collect::<Vec<_>>(),
        [
            Scope::ReservationsWrite,
            Scope::ReservationsRead,
            Scope::ReservationsManage
        ]
    );
    assert!(granted(&[]).is_empty());
}

#[test]
fn modules_and_scopes_use_their_api_names() {
    for m in Module::ALL {
        assert_eq!(serde_json::to_value(m).unwrap(), json!(m.as_str()));
        assert_eq!(Module::parse(m.as_str()), Some(m));
    }
    assert_eq!(
        serde_json::to_value(Module::ReservationsManage).unwrap(),
        json!("reservations_manage")
    );
    assert_eq!(
        serde_json::to_value(Scope::Events).unwrap(),
        json!("events")
    );
    assert_eq!(
        serde_json::to_value(Scope::DemandRead).unwrap(),
        json!("demand:read")
    );
    assert_eq!(Scope::parse("demand:read"), Some(Scope::DemandRead));
    assert_eq!(Scope::parse("events"), Some(Scope::Events));
    for s in IntegrationStatus::ALL {
        assert_eq!(serde_json::to_value(s).unwrap(), json!(s.as_str()));
    }
}

#[test]
fn the_missing_module_is_the_smallest_that_grants_the_scope() {
    for s in Scope::ALL {
        match missing_module(s) {
            Some(m) => assert!(m.scopes().contains(&s), "{s:?}"),
            None => assert_eq!(s, Scope::Admin),
        }
    }
    assert_eq!(
        missing_module(Scope::ReservationsRead),
        Some(Module::Reservations)
    );
    assert_eq!(
        scope_needed(Scope::ReservationsWrite),
        "this call needs the reservations module (scope reservations:write)"
    );
    assert!(scope_needed(Scope::Admin).contains("admin"));
}

#[test]
fn the_contracts_example_is_an_active_integration() {
    let i = complete();
    assert_eq!(i.status, IntegrationStatus::Active);
    assert_eq!(i.id, "conecte");
    assert_eq!(i.modules, [Module::Feasibility, Module::Reservations]);
    assert_eq!(
        i.support_hours[0].days,
        [Day::Mon, Day::Tue, Day::Wed, Day::Thu, Day::Fri]
    );
    assert_eq!((i.created_at, i.updated_at), (t0(), t0()));
    assert!(i.missing_contacts().is_empty());
    assert!(i.scopes().contains(&Scope::ReservationsWrite));
    assert!(i.project_scope().allows("sp-centro") && !i.project_scope().allows("rj"));
}

#[test]
fn an_integration_without_contacts_is_onboarding_and_names_each_missing_field() {
    let i = onboarding();
    assert_eq!(i.status, IntegrationStatus::Onboarding);
    assert_eq!(
        i.missing_contacts(),
        [
            "contacts.alert",
            "contacts.emergency",
            "contacts.technical",
            "contacts.operational",
            "contacts.operational_public",
            "support_hours"
        ]
    );
    assert!(i.project_scope().allows("anything"));
}

#[test]
fn one_missing_contact_keeps_it_onboarding() {
    let i = parse(with_contact("technical", json!([])))
        .validate_at(t0())
        .unwrap();
    assert_eq!(i.status, IntegrationStatus::Onboarding);
    assert_eq!(i.missing_contacts(), ["contacts.technical"]);
    let i = parse(with("support_hours", json!(null)))
        .validate_at(t0())
        .unwrap();
    assert_eq!(i.missing_contacts(), ["support_hours"]);
}

#[test]
fn the_integration_round_trips_through_json() {
    let i = complete();
    let back: Integration = serde_json::from_value(serde_json::to_value(&i).unwrap()).unwrap();
    assert_eq!(back, i);
    assert_eq!(serde_json::to_value(&i).unwrap()["status"], "active");
}

#[test]
fn every_missing_required_member_is_named_at_once() {
    let e = refused(json!({}));
    assert_eq!(fields(&e), ["id", "name", "projects", "modules"]);
}

#[test]
fn an_unknown_member_is_refused_by_the_parser() {
    let mut b = complete_body();
    b["colour"] = json!("red");
    assert!(serde_json::from_value::<NewIntegration>(b).is_err());
    assert!(serde_json::from_value::<NewIntegration>(with_contact("fax", json!([]))).is_err());
}

#[test]
fn the_id_follows_the_project_id_rule() {
    for bad in ["", "*", "-x", "a b", "ação", &"x".repeat(65)] {
        assert_eq!(fields(&refused(with("id", json!(bad)))), ["id"], "{bad:?}");
    }
    for good in ["a", "conecte.ai", "A_1-b", &"x".repeat(64)] {
        assert!(
            parse(with("id", json!(good))).validate_at(t0()).is_ok(),
            "{good:?}"
        );
    }
}

#[test]
fn the_name_is_1_to_200_characters_and_trimmed() {
    for bad in [" ", "a\u{0}b", &"é".repeat(201)] {
        assert_eq!(
            fields(&refused(with("name", json!(bad)))),
            ["name"],
            "{bad:?}"
        );
    }
    let i = parse(with("name", json!(" Conecte ")))
        .validate_at(t0())
        .unwrap();
    assert_eq!(i.name, "Conecte");
    assert!(
        parse(with("name", json!("é".repeat(200))))
            .validate_at(t0())
            .is_ok()
    );
}

#[test]
fn projects_are_distinct_project_ids_or_a_lone_star() {
    assert_eq!(fields(&refused(with("projects", json!([])))), ["projects"]);
    assert_eq!(
        fields(&refused(with("projects", json!(["a", "b c"])))),
        ["projects[1]"]
    );
    assert_eq!(
        fields(&refused(with("projects", json!(["a", "b", "a"])))),
        ["projects[2]"]
    );
    assert_eq!(
        fields(&refused(with("projects", json!(["a", "*"])))),
        ["projects[1]"]
    );
    let all = parse(with("projects", json!(["*"])))
        .validate_at(t0())
        .unwrap();
    assert_eq!(all.projects, ["*"]);
    assert_eq!(all.project_scope(), ProjectScope::All);
}

#[test]
fn modules_are_distinct_known_names() {
    assert_eq!(fields(&refused(with("modules", json!([])))), ["modules"]);
    let e = refused(with(
        "modules",
        json!(["feasibility", "admin", "feasibility"]),
    ));
    assert_eq!(fields(&e), ["modules[1]", "modules[2]"]);
    assert!(
        e.0[0].message.contains("reservations_manage"),
        "{}",
        e.0[0].message
    );
    let i = parse(with("modules", json!(Module::ALL.map(Module::as_str))))
        .validate_at(t0())
        .unwrap();
    assert_eq!(i.modules, Module::ALL);
}

#[test]
fn alert_technical_and_operational_contacts_are_e_mail_addresses() {
    for member in ["alert", "technical", "operational"] {
        let e = refused(with_contact(
            member,
            json!(["ok@x.example", "+5511999990000", "no"]),
        ));
        assert_eq!(
            fields(&e),
            [
                format!("contacts.{member}[1]"),
                format!("contacts.{member}[2]")
            ],
            "{member}"
        );
    }
}

#[test]
fn emergency_contacts_are_e_mail_addresses_or_e164_numbers() {
    let ok = with_contact("emergency", json!(["+5511999990000", "noc@x.example"]));
    assert!(parse(ok).validate_at(t0()).is_ok());
    let e = refused(with_contact(
        "emergency",
        json!(["+55 11 9999", "011999990000", "x@y"]),
    ));
    assert_eq!(
        fields(&e),
        [
            "contacts.emergency[0]",
            "contacts.emergency[1]",
            "contacts.emergency[2]"
        ]
    );
}

#[test]
fn operational_public_is_one_e_mail_address() {
    let e = refused(with_contact("operational_public", json!("+5511999990000")));
    assert_eq!(fields(&e), ["contacts.operational_public"]);
    assert!(
        serde_json::from_value::<NewIntegration>(with_contact(
            "operational_public",
            json!(["a@b.example"])
        ))
        .is_err()
    );
}

#[test]
fn a_repeated_contact_is_refused_whatever_its_case() {
    let e = refused(with_contact("alert", json!(["a@x.example", "A@X.example"])));
    assert_eq!(fields(&e), ["contacts.alert[1]"]);
    assert_eq!(e.0[0].message, "repeats contacts.alert[0]");
}

#[test]
fn a_contact_list_holds_at_most_twenty_entries() {
    let many: Vec<String> = (0..=MAX_CONTACTS)
        .map(|i| format!("a{i}@x.example"))
        .collect();
    assert_eq!(
        fields(&refused(with_contact("alert", json!(many)))),
        ["contacts.alert"]
    );
}

#[test]
fn null_contact_members_are_missing_not_invalid() {
    let i = parse(with_contact("alert", json!(null)))
        .validate_at(t0())
        .unwrap();
    assert_eq!(i.missing_contacts(), ["contacts.alert"]);
    let i = parse(with("contacts", json!(null)))
        .validate_at(t0())
        .unwrap();
    assert_eq!(i.missing_contacts().len(), 5);
}

fn hours(entry: serde_json::Value) -> Result<Integration, Invalid> {
    parse(with("support_hours", json!([entry]))).validate_at(t0())
}

fn hours_fields(entry: serde_json::Value) -> Vec<String> {
    fields(&hours(entry).unwrap_err())
        .into_iter()
        .map(str::to_owned)
        .collect()
}

#[test]
fn support_hours_need_days_times_and_a_time_zone() {
    assert_eq!(
        hours_fields(json!({})),
        [
            "support_hours[0].days",
            "support_hours[0].from",
            "support_hours[0].to",
            "support_hours[0].time_zone"
        ]
    );
    assert!(
        serde_json::from_value::<NewIntegration>(with(
            "support_hours",
            json!([{"days": ["mon"], "from": "08:00", "to": "18:00", "time_zone": "UTC", "x": 1}])
        ))
        .is_err()
    );
}

#[test]
fn support_days_are_distinct_known_days() {
    let e = |days| {
        hours_fields(json!({"days": days, "from": "08:00", "to": "18:00", "time_zone": "UTC"}))
    };
    assert_eq!(e(json!([])), ["support_hours[0].days"]);
    assert_eq!(
        e(json!(["mon", "Monday", "mon"])),
        ["support_hours[0].days[1]", "support_hours[0].days[2]"]
    );
    let all = hours(
        json!({"days": Day::ALL.map(Day::as_str), "from": "00:00", "to": "24:00", "time_zone": "UTC"}),
    );
    assert_eq!(all.unwrap().support_hours[0].days, Day::ALL);
}

#[test]
fn support_times_are_hh_mm_with_to_later_than_from() {
    let e = |from: &str, to: &str| {
        hours(json!({"days": ["mon"], "from": from, "to": to, "time_zone": "UTC"}))
            .err()
            .map(|e| {
                fields(&e)
                    .into_iter()
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
    };
    assert_eq!(e("08:00", "18:00"), None);
    assert_eq!(e("00:00", "23:59"), None);
    assert_eq!(e("22:00", "24:00"), None);
    assert_eq!(
        e("24:00", "24:00"),
        Some(vec!["support_hours[0].from".to_owned()])
    );
    for bad in [
        "8:00", "08:60", "25:00", "08h00", "08:00:00", " 8:00", "24:01",
    ] {
        assert_eq!(
            e(bad, "23:59"),
            Some(vec!["support_hours[0].from".to_owned()]),
            "{bad}"
        );
        assert_eq!(
            e("00:00", bad),
            Some(vec!["support_hours[0].to".to_owned()]),
            "{bad}"
        );
    }
    // Equal or reversed: an overnight span is two entries.
    assert_eq!(
        e("18:00", "08:00"),
        Some(vec!["support_hours[0].to".to_owned()])
    );
    assert_eq!(
        e("08:00", "08:00"),
        Some(vec!["support_hours[0].to".to_owned()])
    );
}

#[test]
fn support_time_zones_are_iana_names() {
    let e =
        |tz: &str| hours(json!({"days": ["mon"], "from": "08:00", "to": "18:00", "time_zone": tz}));
    for good in ["America/Sao_Paulo", "UTC", "Europe/Lisbon", "Asia/Kolkata"] {
        assert!(e(good).is_ok(), "{good}");
    }
    for bad in ["", "Mars/Olympus", "america/sao_paulo", "GMT+3 ", "-03:00"] {
        assert_eq!(
            fields(&e(bad).unwrap_err()),
            ["support_hours[0].time_zone"],
            "{bad:?}"
        );
    }
}

#[test]
fn errors_in_a_later_support_hours_entry_name_its_index() {
    let ok = json!({"days": ["sat"], "from": "09:00", "to": "13:00", "time_zone": "UTC"});
    let bad = json!({"days": ["sun"], "from": "09:00", "to": "13:00", "time_zone": "Nowhere"});
    let e = parse(with("support_hours", json!([ok, bad])))
        .validate_at(t0())
        .unwrap_err();
    assert_eq!(fields(&e), ["support_hours[1].time_zone"]);
    let many: Vec<_> = (0..=MAX_SUPPORT_HOURS).map(|_| ok.clone()).collect();
    assert_eq!(
        fields(
            &parse(with("support_hours", json!(many)))
                .validate_at(t0())
                .unwrap_err()
        ),
        ["support_hours"]
    );
}

#[test]
fn invalid_contacts_are_refused_even_while_onboarding() {
    let e = refused(
        json!({"id": "x", "name": "X", "projects": ["p"], "modules": ["events"],
        "contacts": {"alert": ["nope"]}}),
    );
    assert_eq!(fields(&e), ["contacts.alert[0]"]);
}
