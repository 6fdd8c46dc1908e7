//! Search ignores case and diacritics, and stays inside the caller's scope.

use danvan_store::Scope;
use unicode_normalization::UnicodeNormalization;

use crate::common::{Backend, TestDb};

async fn search_without_diacritics(b: Backend) {
    let db = TestDb::demo(b).await;
    let s = &db.store;
    let all = Scope::all();
    let ids = |r: &danvan_store::registry::search::SearchResults| {
        r.residents.iter().map(|h| h.id).collect::<Vec<_>>()
    };

    let plain = s.search(&all, "nguyen van an", 200).await.unwrap();
    assert!(plain
        .residents
        .iter()
        .any(|h| h.full_name() == "Nguyễn Văn An" && h.hamlet_name == "Thôn Mai Hoàng"));
    assert!(
        plain
            .households
            .iter()
            .any(|h| h.head_name == "Nguyễn Văn An"),
        "the head's household is found"
    );
    let upper = s.search(&all, "NGUYỄN VĂN AN", 200).await.unwrap();
    let exact = s.search(&all, "Nguyễn Văn An", 200).await.unwrap();
    let nfd: String = "Nguyễn Văn An".nfd().collect();
    let decomposed = s.search(&all, &nfd, 200).await.unwrap();
    assert_eq!(ids(&plain), ids(&upper));
    assert_eq!(ids(&plain), ids(&exact));
    assert_eq!(ids(&plain), ids(&decomposed));

    // d finds đ; Hoà (old tone placement) finds Hòa.
    let duc = s.search(&all, "duc", 200).await.unwrap();
    assert!(duc.residents.iter().any(|h| h.given == "Đức"), "d finds đ");
    let hoa_old = s.search(&all, "Trần Thị Hoà", 200).await.unwrap();
    assert!(hoa_old
        .residents
        .iter()
        .any(|h| h.full_name() == "Trần Thị Hòa"));
    // By given name alone.
    let given = s.search(&all, "an", 200).await.unwrap();
    assert!(given.residents.iter().any(|h| h.given == "An"));
    // By phone, in any common spelling, and by household code.
    let someone = s.search(&all, "nguyen van an", 1).await.unwrap().residents[0].household_id;
    let code = s.household(&all, someone).await.unwrap().code;
    let by_code = s.search(&all, &code.to_lowercase(), 10).await.unwrap();
    assert!(by_code.households.iter().any(|h| h.id == someone));
    let phone = s
        .residents(&danvan_store::Scope::all(), someone)
        .await
        .unwrap()
        .into_iter()
        .find_map(|r| r.phone)
        .expect("a phone in the household");
    let national = format!("0{}", &phone[3..]);
    for q in [
        phone.clone(),
        national.clone(),
        format!("{} {} {}", &national[..4], &national[4..7], &national[7..]),
    ] {
        let r = s.search(&all, &q, 10).await.unwrap();
        assert!(
            r.residents.iter().any(|h| h.household_id == someone),
            "phone {q}"
        );
    }
    // Nothing for nonsense, and no error for SQL.
    assert!(s
        .search(&all, "zzqx", 10)
        .await
        .unwrap()
        .residents
        .is_empty());
    assert!(s
        .search(&all, "'; DROP TABLE residents; --", 10)
        .await
        .unwrap()
        .residents
        .is_empty());
    assert!(
        !s.search(&all, "nguyen", 5)
            .await
            .unwrap()
            .residents
            .is_empty(),
        "still there"
    );

    // Scope: Phúc Sơn's officer does not find Yên Thế's Trần Thị Hòa.
    let officer = s.principal_by_username("xa.phucson").await.unwrap();
    let r = s.search(&officer.scope, "tran thi hoa", 200).await.unwrap();
    assert!(r.residents.iter().all(|h| h.hamlet_name != "Thôn Hồng Lạc"));
    db.finish().await;
}
both!(search_without_diacritics);
