//! A signed-in person's home: what is due for them today, counts first and
//! the lists below, each item a link to act on it. Which lists show
//! follows from where the person serves — a team or a hamlet gets the
//! field's lists, a commune the officer's, a province (or the whole tree)
//! its communes side by side — and each officer's list from what the
//! policy lets them do there (the store's `due` module).

use askama::Template;
use danvan_domain::policy::{Action, Target};
use danvan_domain::UnitLevel;
use danvan_store::due::{CommuneFigures, DueList, Ground};
use danvan_store::registry::stats::Counts;
use danvan_store::registry::team::Team;
use danvan_store::registry::unit::Unit;
use danvan_store::Viewer;

use crate::auth::User;
use crate::error::WebError;
use crate::i18n::{pick, Lang};
use crate::pages::{chrome, Chrome};
use crate::AppState;

/// One item of a list on the home page.
pub struct DueLine {
    pub href: String,
    pub label: String,
    pub detail: String,
}

/// One list: its anchor, its title, how many in all, the first items.
pub struct DueSection {
    pub key: &'static str,
    pub title: &'static str,
    pub total: i64,
    pub lines: Vec<DueLine>,
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    c: Chrome,
    display_name: String,
    role_label: &'static str,
    unit: Option<Unit>,
    team: Option<Team>,
    counts: Counts,
    /// "N open · M late" for the person's unit, linking to its inbox.
    feedback_line: Option<String>,
    sections: Vec<DueSection>,
    communes: Vec<CommuneFigures>,
    next_broadcast: Option<(i64, String)>,
    w: &'static HomeWords,
}

pub struct HomeWords {
    pub due: &'static str,
    pub nothing_due: &'static str,
    pub more: &'static str,
    pub communes: &'static str,
    pub commune: &'static str,
    pub open: &'static str,
    pub late: &'static str,
    pub next_broadcast: &'static str,
}

static WORDS_VI: HomeWords = HomeWords {
    due: "Việc cần làm",
    nothing_due: "Không có việc nào đang chờ.",
    more: "và {n} việc khác",
    communes: "Các xã",
    commune: "Xã",
    open: "Phản ánh đang mở",
    late: "Quá hạn",
    next_broadcast: "Lượt phát loa tiếp theo",
};

static WORDS_EN: HomeWords = HomeWords {
    due: "What is due",
    nothing_due: "Nothing is waiting.",
    more: "and {n} more",
    communes: "Communes",
    commune: "Commune",
    open: "Open reports",
    late: "Late",
    next_broadcast: "Next loudspeaker broadcast",
};

fn titles(lang: Lang, key: &str) -> &'static str {
    match key {
        "visits" => pick(lang, "Hộ cần đến thông báo", "Households to visit"),
        "complaints" => pick(
            lang,
            "Phản ánh của các hộ đang chờ",
            "Open reports of the households",
        ),
        "unreached" => pick(
            lang,
            "Hộ chưa nhận được thông báo",
            "Households not reached",
        ),
        "incomplete" => pick(
            lang,
            "Người thiếu thông tin (số điện thoại, năm sinh)",
            "Residents missing a phone or birth year",
        ),
        "late" => pick(lang, "Phản ánh quá hạn", "Late reports"),
        "nearly_late" => pick(
            lang,
            "Phản ánh sắp quá hạn (24 giờ)",
            "Nearly late (24 hours)",
        ),
        "answers_waiting" => pick(lang, "Trả lời chờ duyệt", "Answers waiting for approval"),
        "announcements_waiting" => pick(lang, "Thông báo chờ duyệt", "Announcements waiting"),
        "weak_teams" => pick(
            lang,
            "Tổ chưa có tổ trưởng hoặc dưới 5 thành viên",
            "Teams without a leader or under five members",
        ),
        _ => pick(lang, "Hộ chưa có tổ", "Households without a team"),
    }
}

fn when(t: Option<i64>) -> String {
    let offset = danvan_store::clock::vn_offset();
    t.and_then(|t| chrono::DateTime::from_timestamp(t, 0))
        .map(|d| d.with_timezone(&offset).format("%H:%M %d/%m").to_string())
        .unwrap_or_default()
}

fn section(
    lang: Lang,
    key: &'static str,
    list: DueList,
    href: impl Fn(i64, Option<i64>) -> String,
    detail: impl Fn(&danvan_store::due::DueItem) -> String,
) -> DueSection {
    DueSection {
        key,
        title: titles(lang, key),
        total: list.total,
        lines: list
            .items
            .iter()
            .map(|i| DueLine {
                href: href(i.id, i.other_id),
                label: i.label.clone(),
                detail: detail(i),
            })
            .collect(),
    }
}

fn missing(lang: Lang, what: &str) -> String {
    let phone = pick(lang, "thiếu số điện thoại", "no phone");
    let birth = pick(lang, "thiếu năm sinh", "no birth year");
    match what {
        "phone" => phone.into(),
        "birth" => birth.into(),
        _ => format!("{phone}, {birth}"),
    }
}

pub async fn page(st: &AppState, user: &User) -> Result<String, WebError> {
    let p = &user.p;
    let lang = user.lang;
    let viewer = Viewer::of(p);
    let unit = match p.unit_id {
        Some(id) => Some(st.store.unit(&p.scope, id).await?),
        None => None,
    };
    let team = match p.team_id {
        Some(id) => Some(st.store.team(&p.scope, id).await?),
        None => None,
    };
    let counts = match &unit {
        Some(u) => st.store.counts(&u.path).await?,
        None => st.store.counts(&p.scope.path).await?,
    };
    let feedback_line = match &unit {
        Some(u) => {
            let (open, late) = st.store.feedback_at_a_glance(&viewer, u.id).await?;
            Some(
                lang.t()
                    .fb
                    .home_line
                    .replace("{open}", &open.to_string())
                    .replace("{late}", &late.to_string()),
            )
        }
        None => None,
    };
    let mut sections = Vec::new();
    let mut communes = Vec::new();
    let mut next_broadcast = None;
    let ground = match (&team, &unit) {
        (Some(t), _) => Some(Ground::Team {
            path: &t.path,
            team_id: t.id,
        }),
        (None, Some(u)) if u.level == UnitLevel::Hamlet => Some(Ground::Hamlet { path: &u.path }),
        _ => None,
    };
    if let Some(ground) = ground {
        let due = st.store.field_due(&viewer, &ground).await?;
        sections.push(section(
            lang,
            "visits",
            due.visits,
            |a, h| format!("/announcements/{a}#h{}", h.unwrap_or_default()),
            |i| i.detail.clone().unwrap_or_default(),
        ));
        sections.push(section(
            lang,
            "complaints",
            due.complaints,
            |f, _| format!("/feedback/{f}"),
            |i| i.detail.clone().unwrap_or_default(),
        ));
        sections.push(section(
            lang,
            "unreached",
            due.unreached,
            |h, _| format!("/households/{h}"),
            |i| i.detail.clone().unwrap_or_default(),
        ));
        sections.push(section(
            lang,
            "incomplete",
            due.incomplete,
            |r, _| format!("/residents/{r}/edit"),
            |i| missing(lang, i.detail.as_deref().unwrap_or_default()),
        ));
    }
    if let Some(u) = unit.as_ref().filter(|u| u.level == UnitLevel::Hamlet) {
        if user.may(Action::ListenBroadcast, &Target::at(&u.path)) {
            let slots = st.store.loudspeaker_slots(u.id).await?;
            next_broadcast = next_slot(&slots, st.store.now()).map(|s| (u.id, s));
        }
    }
    match &unit {
        Some(u) if u.level == UnitLevel::Commune => {
            let due = st.store.office_due(&viewer, u).await?;
            let feedback = |f: i64, _| format!("/feedback/{f}");
            let deadline = |i: &danvan_store::due::DueItem| {
                format!("{} · {}", i.detail.clone().unwrap_or_default(), when(i.at))
            };
            for (key, list) in [
                ("late", due.late),
                ("nearly_late", due.nearly_late),
                ("answers_waiting", due.answers_waiting),
            ] {
                if let Some(list) = list {
                    sections.push(section(lang, key, list, feedback, deadline));
                }
            }
            if let Some(list) = due.announcements_waiting {
                sections.push(section(
                    lang,
                    "announcements_waiting",
                    list,
                    |a, _| format!("/announcements/{a}"),
                    deadline,
                ));
            }
            if let Some(list) = due.weak_teams {
                sections.push(section(
                    lang,
                    "weak_teams",
                    list,
                    |t, _| format!("/teams/{t}"),
                    |i| {
                        format!(
                            "{} · {} {}",
                            i.detail.clone().unwrap_or_default(),
                            i.at.unwrap_or_default(),
                            pick(lang, "thành viên", "members")
                        )
                    },
                ));
            }
            if let Some(list) = due.without_team {
                sections.push(section(
                    lang,
                    "without_team",
                    list,
                    |_, hamlet| format!("/units/{}/roster?gaps=1", hamlet.unwrap_or_default()),
                    |i| i.detail.clone().unwrap_or_default(),
                ));
            }
        }
        Some(u) if matches!(u.level, UnitLevel::Province | UnitLevel::District) => {
            communes = st.store.communes_side_by_side(&viewer, u).await?;
        }
        None if team.is_none() => {
            // The administrator: every province's communes.
            for top in st.store.top_units(&p.scope).await? {
                communes.extend(st.store.communes_side_by_side(&viewer, &top).await?);
            }
        }
        _ => {}
    }
    let page = HomePage {
        c: chrome(user, "/"),
        display_name: p.display_name.clone(),
        role_label: pick(lang, p.role.label_vi(), p.role.label_en()),
        unit,
        team,
        counts,
        feedback_line,
        sections,
        communes,
        next_broadcast,
        w: match lang {
            Lang::Vi => &WORDS_VI,
            Lang::En => &WORDS_EN,
        },
    };
    Ok(page.render()?)
}

/// The next of a hamlet's daily broadcast times after `now`, as "HH:MM".
fn next_slot(slots: &[(u32, u32)], now: i64) -> Option<String> {
    let offset = danvan_store::clock::vn_offset();
    let local = chrono::DateTime::from_timestamp(now, 0)?.with_timezone(&offset);
    let minute = chrono::Timelike::hour(&local) * 60 + chrono::Timelike::minute(&local);
    let mut times: Vec<u32> = slots.iter().map(|(h, m)| h * 60 + m).collect();
    times.sort_unstable();
    let next = times
        .iter()
        .find(|t| **t > minute)
        .or_else(|| times.first())?;
    Some(format!("{:02}:{:02}", next / 60, next % 60))
}

#[cfg(test)]
mod tests {
    use super::next_slot;

    #[test]
    fn the_next_broadcast_is_later_today_or_first_tomorrow() {
        // 2026-12-05 08:30 and 18:00 in Vietnam.
        let morning = 1796434200;
        let evening = 1796468400;
        let slots = [(17, 30), (6, 0)];
        assert_eq!(next_slot(&slots, morning).as_deref(), Some("17:30"));
        assert_eq!(next_slot(&slots, evening).as_deref(), Some("06:00"));
        let now = morning;
        assert_eq!(next_slot(&[], now), None);
    }
}
