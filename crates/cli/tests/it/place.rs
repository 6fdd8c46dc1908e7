//! Placing a report that names no hamlet (issue 14 item 4): the store's
//! `place_point` and `place_address` on a tree of our own, the centres the
//! demo derives from its households, and `danvan unit centre`.

use chrono::NaiveDate;
use danvan_domain::place::PlaceCandidate;
use danvan_domain::problem::Problem;
use danvan_domain::UnitLevel;
use danvan_store::registry::unit::{NewEvent, NewUnit, UnitChange};
use danvan_store::{Actor, Scope, Store, StoreError};

use crate::common::{unit_id, Backend, TestDb};

struct Tree {
    an_binh: i64,
    dong_a: i64,
    tan_lap: i64,
    tan_lap_2: i64,
    thon_3: i64,
    dong_b: i64,
    ha_b: i64,
    ended: i64,
}

async fn add(s: &Store, parent: Option<i64>, level: UnitLevel, name: &str) -> i64 {
    s.create_unit(
        &Actor::cli(),
        &NewUnit {
            parent_id: parent,
            level,
            name: name.into(),
            code: None,
            valid_from: None,
            valid_to: None,
        },
    )
    .await
    .unwrap()
}

async fn hamlet(s: &Store, commune: i64, name: &str, lat: f64, lon: f64) -> i64 {
    let id = add(s, Some(commune), UnitLevel::Hamlet, name).await;
    s.set_unit_centre(&Actor::cli(), id, Some((lat, lon)))
        .await
        .unwrap();
    id
}

/// Commune An Bình (hamlets around 21.00–21.02 N, 106.00–106.01 E) and
/// commune Bình Minh to its north-east; both have a "Thôn Đông".
async fn tree(s: &Store) -> Tree {
    let p = add(s, None, UnitLevel::Province, "Tỉnh Thử").await;
    let a = add(s, Some(p), UnitLevel::Commune, "Xã An Bình").await;
    let b = add(s, Some(p), UnitLevel::Commune, "Xã Bình Minh").await;
    let ended = hamlet(s, a, "Thôn Cũ", 21.002, 106.002).await;
    s.end_unit(
        &Actor::cli(),
        ended,
        NaiveDate::from_ymd_opt(2020, 1, 1).unwrap(),
    )
    .await
    .unwrap();
    Tree {
        an_binh: a,
        dong_a: hamlet(s, a, "Thôn Đông", 21.000, 106.000).await,
        tan_lap: hamlet(s, a, "Thôn Tân Lập", 21.010, 106.000).await,
        tan_lap_2: hamlet(s, a, "Thôn Tân Lập 2", 21.020, 106.000).await,
        thon_3: hamlet(s, a, "Thôn 3", 21.000, 106.010).await,
        dong_b: hamlet(s, b, "Thôn Đông", 21.030, 106.035).await,
        ha_b: hamlet(s, b, "Thôn Hạ", 21.100, 106.040).await,
        ended,
    }
}

fn refused(r: Result<danvan_store::registry::place::Placed, StoreError>) -> Problem {
    match r {
        Err(StoreError::Rejected(p)) => p,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn ids(list: &[PlaceCandidate]) -> Vec<i64> {
    list.iter().map(|c| c.hamlet_id).collect()
}

async fn points_go_to_the_commune_they_fall_in(b: Backend) {
    let db = TestDb::new(b).await;
    let s = &db.store;
    let t = tree(s).await;
    let all = Scope::all();
    let at = |lat, lon| s.place_point(&all, lat, lon);

    // Next to a centre.
    let placed = at(21.0004, 106.0003).await.unwrap();
    assert_eq!(placed.hamlet_id, t.dong_a);
    assert_eq!(placed.hamlet, "Thôn Đông");
    assert_eq!(placed.commune, "Xã An Bình");
    assert_eq!(at(21.1, 106.04).await.unwrap().hamlet_id, t.ha_b);
    // Bình Minh's Đông is nearer (1.9 km against 2.0 km), but the point
    // lies in An Bình's area only: its nearest hamlet there.
    assert_eq!(at(21.022, 106.019).await.unwrap().hamlet_id, t.tan_lap_2);
    // An ended hamlet is no more a place.
    assert_eq!(at(21.002, 106.002).await.unwrap().hamlet_id, t.dong_a);

    // Far from every commune: refused, naming the nearest hamlets.
    let Problem::PlacePointFar { nearest } = refused(at(21.06, 106.2).await) else {
        panic!("point_far")
    };
    assert_eq!(nearest[0].hamlet_id, t.ha_b, "{nearest:?}");
    assert_eq!(nearest[1].hamlet_id, t.dong_b, "{nearest:?}");
    let km = nearest[0].metres.unwrap();
    assert!((16_000..18_500).contains(&km), "{km}");
    assert!(!ids(&nearest).contains(&t.ended));
    // Nothing within reach at all: no hamlet to name.
    assert_eq!(
        refused(at(10.77, 106.70).await),
        Problem::PlacePointFar { nearest: vec![] }
    );
    // Outside Vietnam: the point itself is refused.
    assert_eq!(refused(at(48.85, 2.35).await), Problem::PointOutsideVietnam);

    // Scoped: An Bình's key never places in Bình Minh, even on its centre.
    let an_binh = Scope::unit(&s.unit_unscoped(t.an_binh).await.unwrap().path);
    let Problem::PlacePointFar { nearest } = refused(s.place_point(&an_binh, 21.1, 106.04).await)
    else {
        panic!("point_far")
    };
    assert!(!nearest.is_empty());
    assert!(!ids(&nearest).contains(&t.ha_b) && !ids(&nearest).contains(&t.dong_b));

    // A hamlet whose centre is cleared is not placed by a point.
    s.set_unit_centre(&Actor::cli(), t.ha_b, None)
        .await
        .unwrap();
    assert!(matches!(
        refused(at(21.1, 106.04).await),
        Problem::PlacePointFar { .. }
    ));
    db.finish().await;
}
both!(points_go_to_the_commune_they_fall_in);

async fn addresses_go_to_the_hamlet_they_name(b: Backend) {
    let db = TestDb::new(b).await;
    let s = &db.store;
    let t = tree(s).await;
    let all = Scope::all();
    let at = |a: &'static str| s.place_address(&all, a);

    assert_eq!(
        at("thon tan lap, xa an binh").await.unwrap().hamlet_id,
        t.tan_lap
    );
    // The longer name wins over the one inside it; marks and case do not matter.
    assert_eq!(
        at("Số 4, THÔN TÂN LẬP 2").await.unwrap().hamlet_id,
        t.tan_lap_2
    );
    // A name of digits is named with its kind only: "số 3" is a house.
    assert_eq!(at("Thôn 3, An Bình").await.unwrap().hamlet_id, t.thon_3);
    assert!(matches!(
        refused(at("số 3 đường làng").await),
        Problem::PlaceAddressUnknown { .. }
    ));

    // Two hamlets of the name: the commune tells them apart …
    assert_eq!(
        at("thôn Đông, Bình Minh").await.unwrap().hamlet_id,
        t.dong_b
    );
    assert_eq!(at("dong; xa an binh").await.unwrap().hamlet_id, t.dong_a);
    // … and without it the refusal names both.
    let Problem::PlaceAmbiguous { candidates } = refused(at("thôn Đông").await) else {
        panic!("ambiguous")
    };
    assert_eq!(ids(&candidates).len(), 2);
    assert!(ids(&candidates).contains(&t.dong_a) && ids(&candidates).contains(&t.dong_b));
    assert_eq!(candidates[0].hamlet, "Thôn Đông");
    assert!(candidates.iter().any(|c| c.commune == "Xã Bình Minh"));
    // Two different hamlets named: both offered.
    let Problem::PlaceAmbiguous { candidates } =
        refused(at("giữa thôn Đông và thôn Tân Lập, xã An Bình").await)
    else {
        panic!("ambiguous")
    };
    assert_eq!(ids(&candidates), vec![t.dong_a, t.tan_lap]);

    // No hamlet named: the named commune's hamlets are offered …
    let Problem::PlaceAddressUnknown { candidates } = refused(at("xóm Trại, xã Bình Minh").await)
    else {
        panic!("address_unknown")
    };
    assert_eq!(ids(&candidates), vec![t.dong_b, t.ha_b]);
    // … else the scope's, never an ended one.
    let Problem::PlaceAddressUnknown { candidates } = refused(at("ngõ 5").await) else {
        panic!("address_unknown")
    };
    assert_eq!(candidates.len(), 6, "{candidates:?}");
    assert!(!ids(&candidates).contains(&t.ended));
    assert!(matches!(
        refused(at("thôn Cũ").await),
        Problem::PlaceAddressUnknown { .. }
    ));

    // Scoped: An Bình's key finds only its own Đông.
    let an_binh = Scope::unit(&s.unit_unscoped(t.an_binh).await.unwrap().path);
    assert_eq!(
        s.place_address(&an_binh, "thôn Đông")
            .await
            .unwrap()
            .hamlet_id,
        t.dong_a
    );
    assert!(matches!(
        refused(s.place_address(&an_binh, "thôn Hạ").await),
        Problem::PlaceAddressUnknown { .. }
    ));

    // A renamed hamlet answers to its new name only.
    s.record_event(
        &Actor::cli(),
        &NewEvent {
            change: UnitChange::Rename {
                unit_id: t.ha_b,
                new_name: "Thôn Thượng".into(),
            },
            date: NaiveDate::from_ymd_opt(2025, 7, 1).unwrap(),
            legal_basis: "Nghị quyết thử".into(),
            note: String::new(),
        },
    )
    .await
    .unwrap();
    assert_eq!(at("thôn thượng").await.unwrap().hamlet_id, t.ha_b);
    assert!(matches!(
        refused(at("thôn Hạ, Bình Minh").await),
        Problem::PlaceAddressUnknown { .. }
    ));

    // Units made before migration 0019 get their keys at the next start.
    danvan_store::on_db!(&s.db, |p| {
        sqlx::query("UPDATE units SET place_key = NULL")
            .execute(p)
            .await
            .unwrap();
    });
    s.migrate().await.unwrap();
    assert_eq!(
        at("thon tan lap, xa an binh").await.unwrap().hamlet_id,
        t.tan_lap
    );
    db.finish().await;
}
both!(addresses_go_to_the_hamlet_they_name);

/// The demo's hamlets are centred on their households' points, so a
/// point at a hamlet's households lands there.
async fn demo_hamlets_are_centred_on_their_households(b: Backend) {
    let db = TestDb::demo(b).await;
    let s = &db.store;
    let rows: Vec<(i64, f64, f64, f64, f64)> = danvan_store::on_db!(&s.db, |p| {
        sqlx::query_as(
            "SELECT u.id, u.lat, u.lon, AVG(h.lat), AVG(h.lon) FROM units u \
             JOIN households h ON h.hamlet_id = u.id AND h.lat IS NOT NULL \
             WHERE u.level = 'hamlet' GROUP BY u.id, u.lat, u.lon",
        )
        .fetch_all(p)
        .await
        .unwrap()
    });
    assert_eq!(
        rows.len(),
        14,
        "every pilot hamlet has households with points"
    );
    for (id, lat, lon, mean_lat, mean_lon) in rows {
        assert!((lat - mean_lat).abs() < 1e-9 && (lon - mean_lon).abs() < 1e-9);
        assert_eq!(
            s.place_point(&Scope::all(), lat, lon)
                .await
                .unwrap()
                .hamlet_id,
            id
        );
    }
    let mai_hoang = unit_id(s, "mai hoang").await;
    let placed = s
        .place_address(&Scope::all(), "thon mai hoang, phuc son")
        .await
        .unwrap();
    assert_eq!(placed.hamlet_id, mai_hoang);
    assert_eq!(placed.commune, "Xã Phúc Sơn");
    db.finish().await;
}
both!(demo_hamlets_are_centred_on_their_households);

/// `danvan unit centre`: set, shown by `unit list`, cleared, derived.
async fn unit_centre_command(b: Backend) {
    let db = TestDb::new(b).await;
    let s = &db.store;
    let t = tree(s).await;
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_danvan"))
            .args(args)
            .env("DANVAN_DATABASE_URL", &db.url)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let id = t.tan_lap.to_string();
    let (ok, out, err) = run(&[
        "unit", "centre", "--unit", &id, "--lat", "21.4012", "--long", "106.1034",
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("21.4012"), "{out}");
    let u = s.unit_unscoped(t.tan_lap).await.unwrap();
    assert_eq!((u.lat, u.lon), (Some(21.4012), Some(106.1034)));
    let (_, listing, _) = run(&["unit", "list", "--q", "tan lap"]);
    assert!(listing.contains("@ 21.40120, 106.10340"), "{listing}");
    // Outside Vietnam, or half a point: refused in Vietnamese.
    let (ok, _, err) = run(&[
        "unit", "centre", "--unit", &id, "--lat", "48.8", "--long", "2.3",
    ]);
    assert!(
        !ok && err.starts_with("lỗi:") && err.contains("ngoài lãnh thổ"),
        "{err}"
    );
    let (ok, _, err) = run(&["unit", "centre", "--unit", &id]);
    assert!(!ok && err.starts_with("lỗi:"), "{err}");
    let (ok, _, err) = run(&["unit", "centre", "--unit", &id, "--clear"]);
    assert!(ok, "{err}");
    assert_eq!(s.unit_unscoped(t.tan_lap).await.unwrap().lat, None);
    // No household has a point here: nothing to derive.
    let (ok, out, err) = run(&["unit", "centre", "--unit", &id, "--from-households"]);
    assert!(ok, "{err}");
    assert!(out.contains("0 thôn"), "{out}");
    db.finish().await;
}
both!(unit_centre_command);
