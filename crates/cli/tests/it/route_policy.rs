//! Every route of the route table (`danvan_web::routes::table()`), for every
//! role, with a resource in the role's scope and one out of it, signed out
//! too: each answer is checked against `danvan_domain::policy`. A route
//! added without its access, or a handler that lets a role through that
//! the policy refuses (or refuses one it grants), fails here. The table and
//! `openapi.json` must also name the same API routes.

use std::collections::BTreeSet;

use danvan_domain::announcement::{Approval, Urgency};
use danvan_domain::feedback::{Channel, RelayMethod};
use danvan_domain::policy::{self, Action, Target};
use danvan_domain::{Role, UnitLevel};
use danvan_store::announce::announcement::{Audience, NewAnnouncement};
use danvan_store::announce::material::NewMaterial;
use danvan_store::feedback::{NewFeedback, Viewer};
use danvan_store::registry::account::{Principal, TokenKind};
use danvan_store::{Actor, Scope, Store};
use danvan_web::routes::{table, Access, Param, RouteSpec};
use reqwest::Method;

use crate::common::{api_token, client, input_value, unit_id, Backend, PilotScene, Server, PW};

/// One account per role: the demo's.
const ACCOUNTS: [(&str, Role); 7] = [
    ("admin", Role::Admin),
    ("tinh.bacninh", Role::ProvinceOfficer),
    ("giamsat.phucson", Role::Supervisor),
    ("xa.phucson", Role::CommuneOfficer),
    ("truongthon.maihoang", Role::HamletHead),
    ("totruong.maihoang1", Role::TeamLeader),
    ("thanhvien.maihoang2", Role::TeamMember),
];

/// A resource that can fill a path parameter, with what the policy needs
/// to know about it.
#[derive(Clone, Debug, Default)]
struct Res {
    /// What goes in the path.
    value: String,
    path: String,
    handled_at: Option<String>,
    team: Option<i64>,
    author: Option<i64>,
    approval: Approval,
    level: Option<UnitLevel>,
    /// A material: the teams it was handed out to (what a team sees).
    handed_to: Option<Vec<i64>>,
    /// The household's team (the team form sends it back unchanged).
    current_team: Option<i64>,
}

impl Res {
    fn target(&self) -> Target<'_> {
        let mut t = Target::at(&self.path)
            .team(self.team)
            .author(self.author)
            .approval(self.approval);
        if let Some(h) = &self.handled_at {
            t = t.handled_at(h);
        }
        if let Some(l) = self.level {
            t = t.level(l);
        }
        t
    }

    /// In `p`'s part of the tree, as the policy sees it.
    fn in_scope_of(&self, p: &Principal) -> bool {
        if let Some(teams) = &self.handed_to {
            if policy::library_view(p.role) == policy::LibraryView::HandedOut {
                return p.scope.team_id.is_some_and(|t| teams.contains(&t));
            }
        }
        policy::decide(&p.subject(), Action::ReadRegistry, &self.target()).is_ok()
    }
}

/// A signed-in person: their page session and their API key.
struct Person {
    username: &'static str,
    principal: Principal,
    web: reqwest::Client,
    csrf: String,
    /// The token of the forms shown before login (double-submit cookie).
    pre_csrf: String,
    api: String,
}

async fn sign_in(server: &Server, store: &Store, username: &'static str) -> Person {
    let web = client();
    let page = web.get(server.url("/login")).send().await.unwrap();
    let pre_csrf = input_value(&page.text().await.unwrap(), "csrf").expect("csrf");
    let res = web
        .post(server.url("/login"))
        .form(&[
            ("csrf", pre_csrf.as_str()),
            ("login", username),
            ("password", PW),
            ("next", "/"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "login of {username}");
    let page = web
        .get(server.url("/account/password"))
        .send()
        .await
        .unwrap();
    let csrf = input_value(&page.text().await.unwrap(), "csrf").expect("session csrf");
    Person {
        username,
        principal: store.principal_by_username(username).await.unwrap(),
        web,
        csrf,
        pre_csrf,
        api: api_token(store, username).await,
    }
}

/// Who sends a request.
enum Caller<'a> {
    Person(&'a Person),
    SignedOut {
        web: &'a reqwest::Client,
        pre_csrf: &'a str,
    },
    Gateway(&'a str),
}

struct Answer {
    status: u16,
    location: String,
    /// The JSON API's `error.code`.
    code: String,
}

fn fill(spec: &RouteSpec, values: &[String]) -> String {
    let mut out = String::new();
    let mut rest = spec.path;
    for v in values {
        let open = rest.find('{').unwrap();
        let close = rest.find('}').unwrap();
        out += &rest[..open];
        out += v;
        rest = &rest[close + 1..];
    }
    out + rest
}

async fn send(
    server: &Server,
    spec: &RouteSpec,
    url_path: &str,
    who: &Caller<'_>,
    res: Option<&Res>,
) -> Answer {
    let url = server.url(url_path);
    let anon = client();
    let (http, bearer, csrf, key): (&reqwest::Client, Option<&str>, &str, Option<&str>) = match who
    {
        Caller::Person(p) => {
            let csrf = if spec.access == Access::Public {
                p.pre_csrf.as_str()
            } else {
                p.csrf.as_str()
            };
            let key = match spec.access {
                Access::Gateway | Access::ApiKey => Some(p.api.as_str()),
                _ => None,
            };
            (&p.web, spec.is_api().then_some(p.api.as_str()), csrf, key)
        }
        Caller::SignedOut { web, pre_csrf } => (*web, None, *pre_csrf, None),
        Caller::Gateway(k) => (&anon, None, "", Some(*k)),
    };
    let mut req = http.request(spec.method.clone(), &url);
    if let Some(t) = bearer {
        // The API by key, not by the page session.
        req = reqwest::Client::new()
            .request(spec.method.clone(), &url)
            .bearer_auth(t);
    }
    if spec.access == Access::Gateway {
        let key = key.unwrap_or("");
        req = if spec.method == Method::GET {
            req.query(&[("key", key)])
        } else {
            req.form(&[("key", key)])
        };
    } else if spec.access == Access::ApiKey {
        req = match key {
            Some(k) => req.form(&[("api_key", k)]),
            None => req.form(&[("service_code", "x")]),
        };
    } else if spec.method != Method::GET {
        if spec.is_api() {
            let body = if spec.path.ends_with("/withdraw") {
                serde_json::json!({"reason": "route walk"})
            } else {
                serde_json::json!({})
            };
            req = req.json(&body);
        } else {
            let mut form: Vec<(&str, String)> = vec![("csrf", csrf.to_string())];
            if spec.path.ends_with("/withdraw") {
                form.push(("reason", "route walk".into()));
            }
            if spec.path == "/households/{id}/team" {
                let team = res.and_then(|r| r.current_team).map(|t| t.to_string());
                form.push(("team", team.unwrap_or_default()));
            }
            req = req.form(&form);
        }
    }
    let r = req.send().await.expect("request");
    let status = r.status().as_u16();
    let location = r
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = r.bytes().await.unwrap_or_default();
    let code = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["error"]["code"].as_str().map(str::to_string))
        .unwrap_or_default();
    Answer {
        status,
        location,
        code,
    }
}

/// The resources of the scene, by kind, most local first.
struct Scene {
    by_kind: Vec<(Param, Vec<Res>)>,
    /// Fresh resources for the routes that destroy them.
    store: Store,
    mai_hoang: i64,
    hong_lac: i64,
    team0: i64,
    team1: i64,
}

async fn unit_res(store: &Store, id: i64) -> Res {
    let u = store.unit(&Scope::all(), id).await.unwrap();
    Res {
        value: id.to_string(),
        approval: store.announcement_approval(&u.path).await.unwrap(),
        level: Some(u.level),
        path: u.path,
        ..Res::default()
    }
}

fn viewer(store_p: &Principal) -> Viewer {
    Viewer::of(store_p)
}

impl Scene {
    async fn build(scene: &PilotScene) -> Scene {
        let store = scene.store().clone();
        let s = &store;
        let mai_hoang = scene.mai_hoang;
        let phuc_son = scene.phuc_son;
        let hong_lac = unit_id(s, "hong lac").await;
        let yen_the = s
            .unit(&Scope::all(), hong_lac)
            .await
            .unwrap()
            .parent_id
            .unwrap();
        let phuc_son_path = s.unit(&Scope::all(), phuc_son).await.unwrap().path;
        let other_hamlet = s
            .hamlets_under(&phuc_son_path)
            .await
            .unwrap()
            .into_iter()
            .map(|(id, _, _)| id)
            .find(|id| *id != mai_hoang)
            .expect("a second hamlet in Phúc Sơn");
        let team_of = |u: &'static str| async move {
            s.principal_by_username(u).await.unwrap().team_id.unwrap()
        };
        let team0 = team_of("totruong.maihoang1").await;
        let team1 = team_of("thanhvien.maihoang2").await;
        // A team with households, other than `not`.
        let team_in = |hamlet: i64, not: [i64; 2]| async move {
            for t in s.teams_of_hamlet(&Scope::all(), hamlet).await.unwrap() {
                if !not.contains(&t.id)
                    && !s
                        .team_households(&Scope::all(), t.id)
                        .await
                        .unwrap()
                        .is_empty()
                {
                    return t.id;
                }
            }
            panic!("no team with households in {hamlet}");
        };
        let other_team = team_in(mai_hoang, [team0, team1]).await;
        let far_team = team_in(hong_lac, [0, 0]).await;
        let all_teams = [team0, team1, other_team, far_team];

        let mut units = Vec::new();
        for id in [mai_hoang, other_hamlet, phuc_son, hong_lac, yen_the] {
            units.push(unit_res(s, id).await);
        }
        let mut hamlets = Vec::new();
        for id in [mai_hoang, other_hamlet, hong_lac] {
            hamlets.push(unit_res(s, id).await);
        }
        let mut teams = Vec::new();
        let mut households = Vec::new();
        let mut residents = Vec::new();
        let mut feedback = Vec::new();
        let mut codes = Vec::new();
        for team in all_teams {
            let t = s.team(&Scope::all(), team).await.unwrap();
            teams.push(Res {
                value: team.to_string(),
                path: t.path.clone(),
                team: Some(team),
                ..Res::default()
            });
            let h = s.team_households(&Scope::all(), team).await.unwrap()[0].clone();
            let hres = Res {
                value: h.id.to_string(),
                path: h.path.clone(),
                team: h.team_id,
                current_team: h.team_id,
                ..Res::default()
            };
            let r = s.residents(&Scope::all(), h.id).await.unwrap()[0].id;
            residents.push(Res {
                value: r.to_string(),
                ..hres.clone()
            });
            households.push(hres);
            let got = s
                .submit_feedback(
                    &Actor::cli(),
                    &Scope::all(),
                    &NewFeedback {
                        channel: Channel::Member,
                        household_id: Some(h.id),
                        resident_id: Some(r),
                        relay_method: Some(RelayMethod::HomeVisit),
                        reporter_name: None,
                        reporter_phone: None,
                        ..crate::feedback::web_report(h.hamlet_id, "environment", "Cống bị tắc")
                    },
                )
                .await
                .expect("a report");
            let f = s.feedback(&Viewer::system(), got.id).await.unwrap();
            feedback.push(Res {
                value: f.id.to_string(),
                path: f.path.clone(),
                handled_at: Some(f.responsible_path.clone()),
                team: f.team_id,
                ..Res::default()
            });
            codes.push(f.code.clone());
        }
        assert_eq!(feedback.len(), 4, "a report of each team");

        // Announcements: the commune's for Mai Hoàng, team 1's leader's
        // for team 1, Yên Thế's.
        let by = |u: &'static str| async move { s.principal_by_username(u).await.unwrap() };
        let commune = by("xa.phucson").await;
        let leader0 = by("totruong.maihoang1").await;
        let far = by("xa.yenthe").await;
        let mut announcements = Vec::new();
        for (writer, unit, teams) in [
            (&commune, mai_hoang, vec![]),
            (&leader0, mai_hoang, vec![team0]),
            (&far, hong_lac, vec![]),
        ] {
            announcements.push(announcement(s, writer, unit, teams).await);
        }
        // Materials: one of Mai Hoàng handed out to teams 0 and 1, one of
        // Yên Thế.
        let materials = vec![
            material(s, &commune, mai_hoang, &[team0, team1]).await,
            material(s, &far, hong_lac, &[]).await,
        ];
        let photos = vec![Res {
            value: "1".into(),
            path: "/".into(),
            ..Res::default()
        }];
        let codes: Vec<Res> = codes
            .iter()
            .map(|c| Res {
                value: c.clone(),
                path: "/".into(),
                ..Res::default()
            })
            .collect();
        let public = |v: String| {
            vec![Res {
                value: v,
                path: "/".into(),
                ..Res::default()
            }]
        };
        let by_kind = vec![
            (Param::Unit, units),
            (Param::Hamlet, hamlets),
            (Param::Team, teams),
            (Param::Household, households),
            (Param::Resident, residents),
            (Param::Feedback, feedback),
            (Param::Photo, photos),
            (Param::Announcement, announcements.clone()),
            (Param::Material, materials),
            (Param::TrackingCode, codes.clone()),
            (Param::FeedToken, public("no-such-feed".into())),
            (Param::StaticFile, public("app.css".into())),
            (Param::Open311File, public("requests.json".into())),
            (Param::Open311Service, public("security.json".into())),
            (
                Param::Open311Request,
                public(format!("{}.json", codes[0].value)),
            ),
            (
                Param::CapAlert,
                public(format!("{}.xml", announcements[0].value)),
            ),
        ];
        Scene {
            by_kind,
            store: store.clone(),
            mai_hoang,
            hong_lac,
            team0,
            team1,
        }
    }

    fn of(&self, kind: Param) -> &[Res] {
        &self
            .by_kind
            .iter()
            .find(|(k, _)| *k == kind)
            .unwrap_or_else(|| panic!("no resources of kind {kind:?}"))
            .1
    }

    /// Resources made for one request of a route that destroys its
    /// resource (withdraw, remove): in Mai Hoàng, and in Yên Thế.
    async fn fresh(&self, kind: Param) -> Vec<Res> {
        let s = &self.store;
        let commune = s.principal_by_username("xa.phucson").await.unwrap();
        let far = s.principal_by_username("xa.yenthe").await.unwrap();
        match kind {
            Param::Announcement => {
                let here = announcement(s, &commune, self.mai_hoang, vec![]).await;
                let id: i64 = here.value.parse().unwrap();
                s.save_announcement_recording(&viewer(&commune), id, &silence(), 1.0)
                    .await
                    .expect("a recording to remove");
                vec![here, announcement(s, &far, self.hong_lac, vec![]).await]
            }
            Param::Material => vec![
                material(s, &commune, self.mai_hoang, &[self.team0, self.team1]).await,
                material(s, &far, self.hong_lac, &[]).await,
            ],
            _ => self.of(kind).to_vec(),
        }
    }
}

async fn announcement(s: &Store, writer: &Principal, unit: i64, teams: Vec<i64>) -> Res {
    let a = s
        .create_announcement(
            &viewer(writer),
            &NewAnnouncement {
                unit_id: unit,
                title: "Lịch tiêm phòng".into(),
                body: "Sáng thứ bảy tại nhà văn hóa thôn.".into(),
                topic: None,
                urgency: Urgency::Urgent,
                audience: Audience {
                    units: if teams.is_empty() { vec![unit] } else { vec![] },
                    teams,
                    ..Audience::default()
                },
                plain_sms: false,
                send_at: None,
                expires_at: None,
            },
        )
        .await
        .expect("announcement");
    // Planned, so that it reaches the households it is for (what a team
    // role sees of what was written above it).
    s.plan_announcement(a.id).await.expect("plan");
    Res {
        value: a.id.to_string(),
        approval: s.announcement_approval(&a.path).await.unwrap(),
        path: a.path,
        team: a.team_id,
        author: Some(writer.account_id),
        ..Res::default()
    }
}

async fn material(s: &Store, by: &Principal, unit: i64, teams: &[i64]) -> Res {
    let v = viewer(by);
    let m = s
        .create_material(
            &v,
            &NewMaterial {
                unit_id: unit,
                title: "Tờ rơi phòng chống ma túy".into(),
                agency: "Công an xã".into(),
                topic: None,
                note: String::new(),
                file_name: "to-roi.pdf".into(),
                bytes: crate::materials::leaflet_pdf(),
            },
        )
        .await
        .expect("material");
    if !teams.is_empty() {
        s.hand_out_material(&v, m.id, teams, &[], 5)
            .await
            .expect("handout");
    }
    Res {
        value: m.id.to_string(),
        path: m.path,
        handed_to: Some(teams.to_vec()),
        ..Res::default()
    }
}

/// A route that destroys (or spends) the resource it names.
fn destroys(spec: &RouteSpec) -> bool {
    spec.method == Method::DELETE
        || spec.path.ends_with("/withdraw")
        || spec.path.ends_with("/remove")
        || spec.path.ends_with("/delete")
}

/// A second of silence as a 16-bit mono WAV.
fn silence() -> Vec<u8> {
    let rate: u32 = 16_000;
    let data = rate * 2;
    let mut w = Vec::new();
    w.extend_from_slice(b"RIFF");
    w.extend_from_slice(&(36 + data).to_le_bytes());
    w.extend_from_slice(b"WAVEfmt ");
    w.extend_from_slice(&16u32.to_le_bytes());
    w.extend_from_slice(&1u16.to_le_bytes());
    w.extend_from_slice(&1u16.to_le_bytes());
    w.extend_from_slice(&rate.to_le_bytes());
    w.extend_from_slice(&(rate * 2).to_le_bytes());
    w.extend_from_slice(&2u16.to_le_bytes());
    w.extend_from_slice(&16u16.to_le_bytes());
    w.extend_from_slice(b"data");
    w.extend_from_slice(&data.to_le_bytes());
    w.resize(w.len() + data as usize, 0);
    w
}

/// What the answer must be, or None when it is right.
fn judge(
    spec: &RouteSpec,
    who: &Person,
    res: &[Res],
    in_scope: bool,
    a: &Answer,
) -> Option<String> {
    let s = a.status;
    let role = who.principal.role;
    let ok_refusal = s == 403 || s == 404;
    match spec.access {
        // A failed login is 401 (the walk signs in with nothing).
        Access::Public if spec.path == "/login" => (s == 403).then(|| "never 403".into()),
        Access::Public => (s == 401 || s == 403).then(|| "a public route: never 401/403".into()),
        Access::Gateway => (!(s == 401 || s == 403))
            .then(|| "a person's key opens no gateway route: 401/403".into()),
        Access::ApiKey => (s == 401 || s == 403).then(|| "any API key: never 401/403".into()),
        Access::Can(action) if !policy::offered(role, action) => {
            (!ok_refusal).then(|| format!("{role:?} never has {}: 403 or 404", action.as_str()))
        }
        Access::Signed | Access::Can(_) if !in_scope => {
            // Refused before the lookup (a body the handler cannot read) is
            // no success either.
            (!(ok_refusal || s == 400 || s == 422)).then(|| "out of scope: 404 (or 403)".into())
        }
        access => {
            if s == 401 || s == 405 || s >= 500 {
                return Some("in scope and granted: an answer".into());
            }
            if s == 404 && !spec.params.contains(&Param::Photo) {
                return Some("in scope and granted: not 404".into());
            }
            if s == 403 {
                // Only the action's own conditions may refuse: a leader,
                // the writer, the province's rule, the own team.
                let Access::Can(action) = access else {
                    return Some("a signed-in route refused a signed-in person".into());
                };
                if a.code == "forbidden.role" {
                    return Some(format!(
                        "refused by role though {role:?} has {}",
                        action.as_str()
                    ));
                }
                let allowed = res
                    .iter()
                    .all(|r| policy::decide(&who.principal.subject(), action, &r.target()).is_ok());
                if allowed {
                    return Some(format!(
                        "403 though the policy lets {role:?} {} here",
                        action.as_str()
                    ));
                }
            }
            None
        }
    }
}

async fn every_route_answers_as_the_policy_says(b: Backend) {
    let started = std::time::Instant::now();
    let scene = PilotScene::start(b).await;
    let store = scene.store().clone();
    let server = &scene.server;
    let mut people = Vec::new();
    for (username, role) in ACCOUNTS {
        let p = sign_in(server, &store, username).await;
        assert_eq!(p.principal.role, role);
        people.push(p);
    }
    let anon = client();
    let page = anon.get(server.url("/login")).send().await.unwrap();
    let anon_csrf = input_value(&page.text().await.unwrap(), "csrf").unwrap();
    let gateway = store
        .create_token(&Actor::cli(), "admin", "walk", TokenKind::Gateway)
        .await
        .unwrap();
    let world = Scene::build(&scene).await;

    // Destroying routes last, and signing out at the very end.
    let mut specs = table();
    specs.sort_by_key(|s| (s.path == "/logout", destroys(s)));
    let mut wrong: Vec<String> = Vec::new();
    let mut requests = 0;
    let mut note =
        |spec: &RouteSpec, who: &str, place: &str, url: &str, a: &Answer, why: String| {
            wrong.push(format!(
                "{} {} ({url}) as {who}, {place}: got {}{}{} — expected {why}",
                spec.method,
                spec.path,
                a.status,
                if a.code.is_empty() {
                    String::new()
                } else {
                    format!(" {}", a.code)
                },
                if a.location.is_empty() {
                    String::new()
                } else {
                    format!(" → {}", a.location)
                },
            ))
        };
    for spec in &specs {
        for person in &people {
            // The resources of this request, in and out of the person's scope.
            let mut chosen: Vec<(Vec<Res>, Vec<Res>)> = Vec::new();
            for kind in spec.params {
                let list = if destroys(spec) {
                    world.fresh(*kind).await
                } else {
                    world.of(*kind).to_vec()
                };
                let public = list.iter().all(|r| r.path == "/");
                let inside = list.iter().find(|r| r.in_scope_of(&person.principal));
                let outside = list.iter().find(|r| !r.in_scope_of(&person.principal));
                let inside = inside.cloned().unwrap_or_else(|| list[0].clone());
                let outside = match outside {
                    Some(r) => r.clone(),
                    None if public => inside.clone(),
                    // Nobody's: a record that does not exist.
                    None => Res {
                        value: "999999999".into(),
                        path: "/nowhere/".into(),
                        ..Res::default()
                    },
                };
                chosen.push((vec![inside], vec![outside]));
            }
            let places: &[bool] = if spec.params.iter().any(|k| !matches!(k, Param::Photo))
                && !matches!(spec.access, Access::Public)
            {
                &[true, false]
            } else {
                &[true]
            };
            for &in_scope in places {
                let res: Vec<Res> = chosen
                    .iter()
                    .map(|(i, o)| if in_scope { i[0].clone() } else { o[0].clone() })
                    .collect();
                let values: Vec<String> = res.iter().map(|r| r.value.clone()).collect();
                let url = fill(spec, &values);
                let household = res.iter().find(|r| r.current_team.is_some());
                let a = send(server, spec, &url, &Caller::Person(person), household).await;
                requests += 1;
                let res_kept: Vec<Res> = res.iter().filter(|r| r.path != "/").cloned().collect();
                if let Some(why) = judge(spec, person, &res_kept, in_scope, &a) {
                    let place = if in_scope { "in scope" } else { "out of scope" };
                    note(spec, person.username, place, &url, &a, why);
                }
            }
        }
        // Signed out, and the gateway.
        let values: Vec<String> = spec
            .params
            .iter()
            .map(|k| world.of(*k)[0].value.clone())
            .collect();
        let url = fill(spec, &values);
        let a = send(
            server,
            spec,
            &url,
            &Caller::SignedOut {
                web: &anon,
                pre_csrf: &anon_csrf,
            },
            None,
        )
        .await;
        requests += 1;
        let why = match spec.access {
            Access::Public if spec.path == "/login" => (a.status == 403).then_some("never 403"),
            Access::Public => (a.status == 401 || a.status == 403).then_some("never 401/403"),
            Access::Gateway | Access::ApiKey => {
                (!(a.status == 401 || a.status == 403)).then_some("401/403 without a key")
            }
            Access::Signed | Access::Can(_) if spec.is_api() => {
                (a.status != 401).then_some("401 signed out")
            }
            Access::Signed | Access::Can(_) => (!(a.status == 303
                && a.location.starts_with("/login")))
            .then_some("a redirect to /login signed out"),
        };
        if let Some(why) = why {
            note(spec, "nobody", "signed out", &url, &a, why.into());
        }
        if spec.access == Access::Gateway {
            let a = send(server, spec, &url, &Caller::Gateway(&gateway), None).await;
            requests += 1;
            if a.status == 401 || a.status == 403 {
                note(
                    spec,
                    "the gateway",
                    "its key",
                    &url,
                    &a,
                    "the gateway's key opens it".into(),
                );
            }
        }
    }
    let routes = specs.len();
    scene.finish().await;
    assert!(
        wrong.is_empty(),
        "{} of {requests} answers differ from the policy:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    eprintln!(
        "{routes} routes, {requests} requests, {:?}",
        started.elapsed()
    );
}
both!(every_route_answers_as_the_policy_says);

/// Every path of `openapi.json` with its methods is a route of the table,
/// and every `/api/v1` route of the table is in `openapi.json`.
#[test]
fn openapi_and_the_table_name_the_same_api() {
    let doc: serde_json::Value =
        serde_json::from_str(include_str!("../../../web/assets/openapi.json")).unwrap();
    let base = doc["servers"][0]["url"].as_str().unwrap();
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, _) in item.as_object().unwrap() {
            if ["get", "post", "put", "delete", "patch"].contains(&method.as_str()) {
                documented.insert((method.to_uppercase(), format!("{base}{path}")));
            }
        }
    }
    let routed: BTreeSet<(String, String)> = table()
        .iter()
        .filter(|s| s.is_api() && s.path != "/api/v1/openapi.json")
        .map(|s| (s.method.to_string(), s.path.to_string()))
        .collect();
    let undocumented: Vec<_> = routed.difference(&documented).collect();
    let unrouted: Vec<_> = documented.difference(&routed).collect();
    assert!(
        undocumented.is_empty() && unrouted.is_empty(),
        "routes missing from openapi.json: {undocumented:?}\nopenapi.json paths without a route: {unrouted:?}"
    );
}
