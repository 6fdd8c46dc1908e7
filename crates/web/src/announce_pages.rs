//! The officials' announcement pages: the list of announcements in the
//! user's part of the tree, and each one's reach page (households reached
//! by channel and hamlet, and the households not reached yet, which a team
//! member ticks "informed" after a visit).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use danvan_domain::announcement::{
    sms_plan, AnnouncementState, Approval, DeliveryChannel, DeliveryState, Urgency,
};
use danvan_domain::calendar;
use danvan_domain::policy::{self, Action, Target};
use danvan_domain::problem::Problem;
use danvan_domain::UnitLevel;
use danvan_store::announce::announcement::{Announcement, ReachReport, NOT_REACHED_PAGE};
use danvan_store::feedback::Viewer;
use serde::Deserialize;

use crate::auth::User;
use crate::chart::{self, Frame, Series, Svg};
use crate::error::WebError;
use crate::i18n::{pick, Lang};
use crate::num;
use crate::pages::{chrome, Chrome};
use crate::AppState;

type Page = Result<Response, WebError>;

/// Strings of the announcement pages.
pub struct An {
    pub nav: &'static str,
    pub write: &'static str,
    pub list_title: &'static str,
    pub none: &'static str,
    pub col_title: &'static str,
    pub col_urgency: &'static str,
    pub col_state: &'static str,
    pub col_send_at: &'static str,
    pub col_households: &'static str,
    pub reach_title: &'static str,
    pub reached: &'static str,
    pub sms_cost: &'static str,
    pub by_channel: &'static str,
    pub by_hamlet: &'static str,
    pub col_channel: &'static str,
    pub col_count: &'static str,
    pub col_hamlet: &'static str,
    pub col_reached: &'static str,
    pub not_reached: &'static str,
    pub all_reached: &'static str,
    pub col_household: &'static str,
    pub col_address: &'static str,
    pub col_reason: &'static str,
    pub inform: &'static str,
    pub next_page: &'static str,
    pub prev_page: &'static str,
    pub approval_skipped: &'static str,
    pub emergency_waits: &'static str,
    pub print_poster: &'static str,
    pub print_leaflet: &'static str,
    pub loudspeaker: &'static str,
}

pub static AN_VI: An = An {
    nav: "Thông báo",
    write: "Viết thông báo",
    list_title: "Thông báo",
    none: "Chưa có thông báo nào.",
    col_title: "Tiêu đề",
    col_urgency: "Mức độ",
    col_state: "Tình trạng",
    col_send_at: "Gửi lúc",
    col_households: "Số hộ",
    reach_title: "Mức độ tới hộ",
    reached: "Đã tới",
    sms_cost: "Tin nhắn: {parts} phần mỗi hộ ({coding})",
    by_channel: "Theo kênh",
    by_hamlet: "Theo thôn",
    col_channel: "Kênh",
    col_count: "Số lượng",
    col_hamlet: "Thôn",
    col_reached: "Đã tới",
    not_reached: "Hộ chưa nhận được thông báo",
    all_reached: "Mọi hộ đã nhận được thông báo.",
    col_household: "Hộ",
    col_address: "Địa chỉ",
    col_reason: "Ghi chú",
    inform: "Đã báo",
    next_page: "Trang sau",
    prev_page: "Trang trước",
    approval_skipped: "Khẩn cấp: gửi không chờ duyệt",
    emergency_waits: "Thông báo khẩn cấp này đang chờ lãnh đạo duyệt: chưa gửi tới hộ nào, chưa phát cảnh báo. Lãnh đạo có quyền duyệt đã được nhắn tin báo (những ai có số điện thoại trong tài khoản).",
    print_poster: "In áp phích (A4, PDF)",
    print_leaflet: "In tờ rơi (A5, PDF)",
    loudspeaker: "Lịch phát loa và tệp âm thanh",
};

pub static AN_EN: An = An {
    nav: "Announcements",
    write: "Write an announcement",
    list_title: "Announcements",
    none: "No announcement yet.",
    col_title: "Title",
    col_urgency: "Urgency",
    col_state: "State",
    col_send_at: "Sent at",
    col_households: "Households",
    reach_title: "Reach",
    reached: "Reached",
    sms_cost: "SMS: {parts} parts per household ({coding})",
    by_channel: "By channel",
    by_hamlet: "By hamlet",
    col_channel: "Channel",
    col_count: "Count",
    col_hamlet: "Hamlet",
    col_reached: "Reached",
    not_reached: "Households not reached yet",
    all_reached: "Every household has been reached.",
    col_household: "Household",
    col_address: "Address",
    col_reason: "Note",
    inform: "Informed",
    next_page: "Next page",
    prev_page: "Previous page",
    approval_skipped: "Emergency: sent without approval",
    emergency_waits: "This emergency waits for a leader's approval: nothing has gone to households and no alert is out yet. The leaders who may approve it were told by SMS (those with a phone on their account).",
    print_poster: "Print a poster (A4, PDF)",
    print_leaflet: "Print a leaflet (A5, PDF)",
    loudspeaker: "Loudspeaker schedule and audio files",
};

fn an(lang: Lang) -> &'static An {
    match lang {
        Lang::Vi => &AN_VI,
        Lang::En => &AN_EN,
    }
}

/// An announcement's state.
fn state_label(lang: Lang, a: &Announcement) -> &'static str {
    match a.state {
        AnnouncementState::Pending => pick(lang, "Chờ duyệt", "Awaiting approval"),
        AnnouncementState::Approved => pick(lang, "Đã duyệt, chờ gửi", "Approved, waiting"),
        AnnouncementState::Planned => pick(lang, "Đã gửi", "Sent"),
        AnnouncementState::Cancelled if a.withdrawn() => pick(lang, "Đã thu hồi", "Withdrawn"),
        AnnouncementState::Cancelled => pick(lang, "Đã hủy", "Cancelled"),
    }
}

/// A delivery's state.
fn delivery_label(lang: Lang, s: DeliveryState) -> &'static str {
    match s {
        DeliveryState::Sent => pick(lang, "Đã gửi", "Sent"),
        DeliveryState::Delivered => pick(lang, "Đã tới máy", "Delivered"),
        DeliveryState::Acknowledged => pick(lang, "Đã xác nhận", "Acknowledged"),
        DeliveryState::Failed => pick(lang, "Không gửi được", "Failed"),
        DeliveryState::Planned => pick(lang, "Chờ gửi", "Planned"),
    }
}

fn channel_label(lang: Lang, c: DeliveryChannel) -> &'static str {
    match c {
        DeliveryChannel::Feed => pick(
            lang,
            "Trang tin (điện thoại thông minh)",
            "Feed (smartphone)",
        ),
        DeliveryChannel::Sms => pick(lang, "Tin nhắn SMS", "SMS"),
        DeliveryChannel::Visit => pick(lang, "Tổ dân vận đến báo", "Team visit"),
    }
}

fn when(unix: i64) -> String {
    calendar::to_local(unix)
        .format("%d/%m/%Y %H:%M")
        .to_string()
}

struct Row {
    id: i64,
    title: String,
    urgency: &'static str,
    state: &'static str,
    send_at: String,
    households: i64,
}

#[derive(Template)]
#[template(path = "announcements.html")]
struct ListPage {
    c: Chrome,
    an: &'static An,
    rows: Vec<Row>,
    /// A hamlet head's loudspeaker schedule.
    loudspeaker: Option<i64>,
    /// The province whose approval rule the user may set, its choices,
    /// and the roles it may let send emergencies without approval.
    approval: Option<(i64, Vec<Choice>, Vec<Choice>)>,
    /// Emergencies waiting for this user's approval (id, title): the
    /// in-app side of the SMS their writing sent.
    awaiting: Vec<(i64, String)>,
    msg: Option<&'static str>,
}

#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    msg: Option<String>,
}

/// The province whose approval rule the user may set: the administrator
/// (the first province) or a leader of a province.
async fn approval_choices(
    st: &AppState,
    user: &User,
) -> Result<Option<(i64, Vec<Choice>, Vec<Choice>)>, WebError> {
    let lang = user.lang;
    if !user.may_at_all(Action::SetApprovalRule) {
        return Ok(None);
    }
    // The province the user serves (the administrator: the first one).
    let province = match user.p.unit_id {
        Some(own) => Some(own),
        None => st
            .store
            .top_units(&user.p.scope)
            .await?
            .into_iter()
            .next()
            .map(|u| u.id),
    };
    let Some(province) = province else {
        return Ok(None);
    };
    let unit = st.store.unit(&user.p.scope, province).await?;
    let rule = Target::at(&unit.path).level(UnitLevel::Province);
    if unit.parent_id.is_some() || !user.may(Action::SetApprovalRule, &rule) {
        return Ok(None);
    }
    let rules = st.store.announcement_rules(&unit.path).await?;
    let current = rules.approval;
    let roles = policy::emergency_role_choices()
        .into_iter()
        .map(|r| Choice {
            value: r.as_str().into(),
            label: pick(lang, r.label_vi(), r.label_en()).into(),
            selected: rules.emergency_roles.contains(&r),
        })
        .collect();
    Ok(Some((
        province,
        Approval::ALL
            .iter()
            .map(|a| Choice {
                value: a.as_str().into(),
                label: match lang {
                    Lang::Vi => a.label_vi().into(),
                    Lang::En => match a {
                        Approval::Leader => {
                            "The writing unit's leader (or one above) approves".into()
                        }
                        Approval::Above => "A leader above the writing unit approves".into(),
                        Approval::None => "No approval needed".into(),
                    },
                },
                selected: *a == current,
            })
            .collect(),
        roles,
    )))
}

/// The emergencies among `list` that wait for approval and that `user`
/// may approve.
async fn awaiting_approval(
    st: &AppState,
    user: &User,
    list: &[Announcement],
) -> Result<Vec<(i64, String)>, WebError> {
    let mut out = Vec::new();
    for a in list {
        if a.state != AnnouncementState::Pending || a.urgency != Urgency::Emergency {
            continue;
        }
        let rule = st.store.announcement_approval(&a.path).await?;
        if user.may(
            Action::ApproveAnnouncement,
            &Target::at(&a.path).team(a.team_id).approval(rule),
        ) {
            out.push((a.id, a.title.clone()));
        }
    }
    Ok(out)
}

/// `GET /announcements`.
pub async fn list(State(st): State<AppState>, user: User, Query(q): Query<ListQuery>) -> Page {
    let lang = user.lang;
    let list = st.store.announcements(&Viewer::of(&user.p), 50).await?;
    let rows = list
        .iter()
        .map(|a| Row {
            id: a.id,
            title: a.title.clone(),
            urgency: urgency_label(lang, a),
            state: state_label(lang, a),
            send_at: when(a.send_at),
            households: a.households,
        })
        .collect();
    let page = ListPage {
        c: chrome(&user, "/announcements"),
        an: an(lang),
        rows,
        loudspeaker: crate::loudspeaker::own_hamlet(&st, &user).await,
        approval: approval_choices(&st, &user).await?,
        awaiting: awaiting_approval(&st, &user, &list).await?,
        msg: (q.msg.as_deref() == Some("settings"))
            .then(|| pick(lang, "Đã lưu cách duyệt thông báo.", "Approval rule saved.")),
    };
    Ok(Html(page.render()?).into_response())
}

fn urgency_label(lang: Lang, a: &Announcement) -> &'static str {
    let u = a.urgency;
    match lang {
        Lang::Vi => u.label_vi(),
        Lang::En => match u {
            Urgency::Normal => "Normal",
            Urgency::Urgent => "Urgent",
            Urgency::Emergency => "Emergency",
        },
    }
}

struct ChannelRow {
    channel: &'static str,
    state: &'static str,
    count: String,
}

struct HamletRow {
    name: String,
    households: String,
    reached: String,
    percent: String,
}

struct HouseholdRow {
    household_id: i64,
    code: String,
    head_name: String,
    address: String,
    hamlet: String,
    channel: &'static str,
    state: &'static str,
    reason: String,
    /// The viewer may tick it informed (a team role, a visit to make).
    can_inform: bool,
}

#[derive(Template)]
#[template(path = "announcement_reach.html")]
struct ReachPage {
    c: Chrome,
    an: &'static An,
    id: i64,
    title: String,
    body: String,
    urgency: &'static str,
    state: &'static str,
    approval_skipped: bool,
    /// An emergency waiting for a leader's approval (its leaders were
    /// told by SMS): nothing has gone out, no alert either.
    emergency_waits: bool,
    send_at: String,
    sms_cost: String,
    households: String,
    reached: String,
    reached_percent: String,
    /// Reach by channel over the hours after sending, and its numbers.
    reach_chart: Option<ReachChart>,
    by_channel: Vec<ChannelRow>,
    by_hamlet: Vec<HamletRow>,
    not_reached: Vec<HouseholdRow>,
    page: i64,
    more: bool,
    /// Waiting for approval, and the viewer may give it.
    can_approve: bool,
    /// The viewer may withdraw it; why it was withdrawn.
    can_withdraw: bool,
    cancel_reason: Option<String>,
    /// The viewer may upload a recorded voice; the one kept, in seconds.
    can_record: bool,
    recording: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct ReachQuery {
    page: Option<i64>,
    #[serde(default)]
    error: Option<String>,
}

/// `GET /announcements/{id}`: the reach page.
pub async fn reach(
    State(st): State<AppState>,
    user: User,
    Path(id): Path<i64>,
    Query(q): Query<ReachQuery>,
) -> Page {
    let lang = user.lang;
    let viewer = Viewer::of(&user.p);
    let a = st.store.announcement(&viewer, id).await?;
    let page = q.page.unwrap_or(0).max(0);
    let r = st.store.announcement_reach(&viewer, id, page).await?;
    if !r.not_reached.is_empty() {
        st.store
            .audit(
                &viewer.actor,
                "export",
                "announcement_reach",
                &id.to_string(),
                &viewer.scope.path,
                serde_json::json!({"households": r.not_reached.len(), "page": page, "page_view": true}),
            )
            .await?;
    }
    // What the page offers is what the policy allows, for this
    // announcement, under the province's approval rule.
    let here = Target::at(&a.path).team(a.team_id);
    let rule = st.store.announcement_approval(&a.path).await?;
    let can_approve = a.state == AnnouncementState::Pending
        && user.may(Action::ApproveAnnouncement, &here.approval(rule));
    // Each household's visit is the user's team's (the list is scoped).
    let can_inform =
        a.state == AnnouncementState::Planned && user.may_at_all(Action::InformHousehold);
    let writer = st.store.announcement_writer(a.id).await?;
    let can_withdraw = a.state != AnnouncementState::Cancelled
        && user.may(Action::WithdrawAnnouncement, &here.author(writer));
    let can_record = user.may(Action::RecordVoice, &here);
    let recording = if can_record {
        st.store
            .announcement_recording(a.id)
            .await?
            .map(|r| format!("{:.0}", r.seconds.ceil()))
    } else {
        None
    };
    let plan = sms_plan(&a.sms_text(), a.gsm7);
    let coding = match plan.coding {
        danvan_domain::announcement::Coding::Gsm7 => {
            pick(lang, "không dấu, GSM 7-bit", "no diacritics, GSM 7-bit")
        }
        danvan_domain::announcement::Coding::Ucs2 => {
            pick(lang, "có dấu, UCS-2", "with diacritics, UCS-2")
        }
    };
    let view = ReachPage {
        c: chrome(&user, &format!("/announcements/{id}")),
        an: an(lang),
        id,
        title: a.title.clone(),
        body: a.body.clone(),
        urgency: urgency_label(lang, &a),
        state: state_label(lang, &a),
        approval_skipped: a.approval_skipped,
        emergency_waits: a.state == AnnouncementState::Pending && a.urgency == Urgency::Emergency,
        send_at: when(a.send_at),
        sms_cost: an(lang)
            .sms_cost
            .replace("{parts}", &plan.parts.to_string())
            .replace("{coding}", coding),
        households: num::int(lang, r.households),
        reached: num::int(lang, r.reached),
        reached_percent: num::share(lang, r.reached, r.households),
        reach_chart: reach_chart(lang, &r, st.store.now()),
        by_channel: r
            .by_channel
            .iter()
            .map(|(c, s, n)| ChannelRow {
                channel: channel_label(lang, *c),
                state: delivery_label(lang, *s),
                count: num::int(lang, *n),
            })
            .collect(),
        by_hamlet: r
            .by_hamlet
            .iter()
            .map(|(_, name, n, reached)| HamletRow {
                name: name.clone(),
                households: num::int(lang, *n),
                reached: num::int(lang, *reached),
                percent: num::share(lang, *reached, *n),
            })
            .collect(),
        more: r.not_reached.len() as i64 == NOT_REACHED_PAGE,
        not_reached: r
            .not_reached
            .iter()
            .map(|h| HouseholdRow {
                household_id: h.household_id,
                code: h.household_code.clone(),
                head_name: h.head_name.clone(),
                address: h.address.clone(),
                hamlet: h.hamlet_name.clone(),
                channel: channel_label(lang, h.channel),
                state: delivery_label(lang, h.state),
                reason: h.reason.clone().unwrap_or_default(),
                can_inform: can_inform && h.channel == DeliveryChannel::Visit,
            })
            .collect(),
        page,
        can_approve,
        can_withdraw,
        cancel_reason: a
            .cancel_reason
            .clone()
            .filter(|_| a.state == AnnouncementState::Cancelled),
        can_record: can_record && a.state != AnnouncementState::Cancelled,
        recording,
        error: q
            .error
            .as_deref()
            .map(reach_error)
            .filter(|e| !e.is_empty()),
    };
    let status = if view.error.is_some() {
        axum::http::StatusCode::UNPROCESSABLE_ENTITY
    } else {
        axum::http::StatusCode::OK
    };
    Ok((status, Html(view.render()?)).into_response())
}

/// The reach chart: households reached by each channel, counted at the
/// end of each step after sending, and the table of the same numbers.
struct ReachChart {
    svg: Svg,
    title: &'static str,
    step: &'static str,
    channels: Vec<&'static str>,
    rows: Vec<ReachRow>,
}

struct ReachRow {
    label: String,
    cells: Vec<String>,
    total: String,
}

/// At most this many points: hourly for a day, then in longer steps.
const REACH_POINTS: i64 = 24;
/// Past two weeks, the last point holds everything later.
const REACH_HOURS: i64 = 14 * 24;

/// The steps (in hours) a reach chart shows for an announcement sent
/// `elapsed` seconds ago, and whether the last one also holds what came
/// after it.
fn reach_steps(elapsed: i64) -> (Vec<i64>, bool) {
    let hours = ((elapsed.max(0) + 3599) / 3600).clamp(1, REACH_HOURS);
    let step = (hours + REACH_POINTS - 1) / REACH_POINTS;
    let points = (hours + step - 1) / step;
    (
        (1..=points).map(|i| i * step).collect(),
        elapsed > REACH_HOURS * 3600,
    )
}

fn reach_chart(lang: Lang, r: &ReachReport, now: i64) -> Option<ReachChart> {
    let sent = r.sent_at?;
    let (steps, capped) = reach_steps(now - sent);
    let channels: Vec<DeliveryChannel> = DeliveryChannel::ALL
        .into_iter()
        .filter(|c| r.by_channel.iter().any(|(k, _, _)| k == c))
        .collect();
    let last = steps.len() - 1;
    let series: Vec<Series> = channels
        .iter()
        .map(|c| Series {
            name: channel_label(lang, *c).to_string(),
            values: steps
                .iter()
                .enumerate()
                .map(|(i, h)| {
                    r.reached_by_hour
                        .iter()
                        .filter(|(k, hour, _)| k == c && (i == last || hour < h))
                        .map(|(_, _, n)| n)
                        .sum()
                })
                .collect(),
        })
        .collect();
    let labels: Vec<String> = steps
        .iter()
        .enumerate()
        .map(|(i, h)| {
            if i == last && capped {
                format!("{h} h+")
            } else {
                format!("{h} h")
            }
        })
        .collect();
    let title = pick(
        lang,
        "Số hộ đã nhận theo kênh, sau khi gửi",
        "Households reached by channel, after sending",
    );
    let desc = pick(
        lang,
        "Số hộ đã nhận được thông báo theo từng kênh, cộng dồn đến cuối mỗi mốc giờ kể từ khi gửi. Bảng bên cạnh ghi các con số.",
        "Households reached on each channel, counted up to the end of each hour after sending. The table beside it gives the numbers.",
    );
    let svg = chart::lines(
        &Frame {
            id: "chart-reach",
            title,
            desc,
            lang,
        },
        &labels,
        &series,
    );
    let rows = labels
        .iter()
        .enumerate()
        .map(|(i, label)| {
            let cells: Vec<i64> = series.iter().map(|s| s.values[i]).collect();
            ReachRow {
                label: label.clone(),
                total: num::int(lang, cells.iter().sum()),
                cells: cells.into_iter().map(|n| num::int(lang, n)).collect(),
            }
        })
        .collect();
    Some(ReachChart {
        svg,
        title,
        step: pick(lang, "Sau khi gửi", "After sending"),
        channels: channels.iter().map(|c| channel_label(lang, *c)).collect(),
        rows,
    })
}

/// A refusal carried back to the reach page by its redirect (a short
/// code, never free text from the URL).
fn reach_error(code: &str) -> String {
    crate::loudspeaker::recording_error(code)
        .map(str::to_string)
        .or_else(|| match code {
            "approve" => {
                Some("Bạn không được duyệt thông báo này, hoặc nó không còn chờ duyệt".to_string())
            }
            "withdraw-reason" => Some("Hãy ghi lý do thu hồi".to_string()),
            "withdraw" => {
                Some("Bạn không được thu hồi thông báo này, hoặc nó đã được thu hồi".to_string())
            }
            _ => None,
        })
        .unwrap_or_default()
}

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf: String,
}

/// `POST /announcements/{id}/approve`: the leader approves from the page;
/// it is planned at once when its time has come.
pub async fn approve(
    State(st): State<AppState>,
    user: User,
    Path(id): Path<i64>,
    Form(f): Form<CsrfForm>,
) -> Page {
    user.check_csrf(&f.csrf)?;
    let viewer = Viewer::of(&user.p);
    match st.store.approve_announcement(&viewer, id).await {
        Ok(_) => {
            st.store
                .plan_due_announcements(st.public_url.as_deref())
                .await?;
            Ok(Redirect::to(&format!("/announcements/{id}")).into_response())
        }
        Err(danvan_store::StoreError::Rejected(_) | danvan_store::StoreError::Conflict(_)) => {
            Ok(Redirect::to(&format!("/announcements/{id}?error=approve")).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /announcements/settings`: who approves the province's
/// announcements, and the roles that may send emergencies without
/// approval (the form's ticked `emergency_role` boxes; none ticked: none).
pub async fn settings(
    State(st): State<AppState>,
    user: User,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Page {
    let field = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    };
    // A form without its fields is malformed before anything else (as
    // the typed form's extraction refused it).
    let province: i64 = field("province")
        .trim()
        .parse()
        .map_err(|_| WebError::Problem(Problem::BadChoice { field: "province" }))?;
    let approval = Approval::parse(field("approval"))
        .ok_or(WebError::Problem(Problem::ApprovalRuleUnknown))?;
    user.check_csrf(field("csrf"))?;
    user.require(Action::SetApprovalRule)?;
    let roles = pairs
        .iter()
        .filter(|(k, _)| k == "emergency_role")
        .map(|(_, v)| danvan_domain::Role::parse(v))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| WebError::Problem(Problem::EmergencyRoleInvalid))?;
    // The page's form always carries its boxes; a form without them keeps
    // the roles named before.
    let roles = (field("emergency_form") == "1").then_some(&roles[..]);
    st.store
        .set_announcement_settings(&Viewer::of(&user.p), province, approval, roles)
        .await?;
    Ok(Redirect::to("/announcements?msg=settings").into_response())
}

#[derive(Deserialize)]
pub struct InformForm {
    csrf: String,
    household: String,
    #[serde(default)]
    page: Option<i64>,
}

/// `POST /announcements/{id}/inform`: a team member visited the household
/// and told it.
pub async fn inform(
    State(st): State<AppState>,
    user: User,
    Path(id): Path<i64>,
    Form(f): Form<InformForm>,
) -> Page {
    user.check_csrf(&f.csrf)?;
    user.require(Action::InformHousehold)?;
    let household: i64 = f
        .household
        .trim()
        .parse()
        .map_err(|_| WebError::Problem(Problem::BadChoice { field: "household" }))?;
    let viewer = Viewer::of(&user.p);
    // The announcement must be one the user may see.
    st.store.announcement(&viewer, id).await?;
    st.store.tick_visit(&viewer, id, household).await?;
    let page = f.page.unwrap_or(0).max(0);
    Ok(Redirect::to(&format!("/announcements/{id}?page={page}")).into_response())
}

#[derive(Deserialize)]
pub struct WithdrawForm {
    csrf: String,
    #[serde(default)]
    reason: String,
}

/// `POST /announcements/{id}/withdraw`: *thu hồi*, with a reason; a
/// refusal comes back to the page.
pub async fn withdraw(
    State(st): State<AppState>,
    user: User,
    Path(id): Path<i64>,
    Form(f): Form<WithdrawForm>,
) -> Page {
    user.check_csrf(&f.csrf)?;
    let back =
        |code: &str| Ok(Redirect::to(&format!("/announcements/{id}?error={code}")).into_response());
    if f.reason.trim().is_empty() {
        return back("withdraw-reason");
    }
    match st
        .store
        .withdraw_announcement(&Viewer::of(&user.p), id, &f.reason)
        .await
    {
        Ok(_) => Ok(Redirect::to(&format!("/announcements/{id}")).into_response()),
        Err(danvan_store::StoreError::Rejected(_) | danvan_store::StoreError::Conflict(_)) => {
            back("withdraw")
        }
        Err(e) => Err(e.into()),
    }
}

struct FeedView {
    title: String,
    body: String,
    urgency: &'static str,
    urgent: bool,
    send_at: String,
    unit_name: String,
}

fn feed_views(
    lang: Lang,
    items: &[danvan_store::announce::announcement::FeedItem],
) -> Vec<FeedView> {
    items
        .iter()
        .map(|i| {
            let u = i.urgency;
            FeedView {
                title: i.title.clone(),
                body: i.body.clone(),
                urgency: match (lang, u) {
                    (Lang::Vi, u) => u.label_vi(),
                    (Lang::En, Urgency::Emergency) => "Emergency",
                    (Lang::En, _) => "Urgent",
                },
                urgent: u != Urgency::Normal,
                send_at: when(i.send_at),
                unit_name: i.unit_name.clone(),
            }
        })
        .collect()
}

#[derive(Template)]
#[template(path = "announcement_feed.html")]
struct FeedPage {
    c: Chrome,
    heading: String,
    empty: &'static str,
    items: Vec<FeedView>,
}

/// `GET /feed/{token}`: a household's own announcements, from the link
/// sent to it once by SMS. Opening it acknowledges them. A token nobody
/// was given is the ordinary 404 page, and changes nothing.
pub async fn feed(State(st): State<AppState>, lang: Lang, Path(token): Path<String>) -> Page {
    let items = st.store.open_feed(token.trim()).await?;
    let mut c = crate::pages::anon_chrome(lang);
    c.here = "/".into();
    let page = FeedPage {
        c,
        heading: pick(
            lang,
            "Thông báo gửi hộ gia đình bạn",
            "Announcements for your household",
        )
        .into(),
        empty: pick(
            lang,
            "Hiện chưa có thông báo nào.",
            "No announcement at the moment.",
        ),
        items: feed_views(lang, &items),
    };
    Ok(Html(page.render()?).into_response())
}

/// `GET /hamlets/{id}/announcements`: a hamlet's public page of current
/// announcements, no login.
pub async fn hamlet(State(st): State<AppState>, lang: Lang, Path(id): Path<i64>) -> Page {
    let unit = st.store.unit(&danvan_store::Scope::all(), id).await?;
    if unit.level != UnitLevel::Hamlet {
        return Err(WebError::NotFound);
    }
    let items = st.store.hamlet_announcements(id).await?;
    let mut c = crate::pages::anon_chrome(lang);
    c.here = format!("/hamlets/{id}/announcements");
    let page = FeedPage {
        c,
        heading: format!(
            "{}: {}",
            pick(lang, "Thông báo", "Announcements"),
            unit.name
        ),
        empty: pick(
            lang,
            "Hiện chưa có thông báo nào.",
            "No announcement at the moment.",
        ),
        items: feed_views(lang, &items),
    };
    Ok(Html(page.render()?).into_response())
}

/// One choice of a select.
struct Choice {
    value: String,
    label: String,
    selected: bool,
}

#[derive(Template)]
#[template(path = "announcement_new.html")]
struct NewPage {
    c: Chrome,
    lang_vi: bool,
    units: Vec<Choice>,
    urgencies: Vec<Choice>,
    reach: Vec<Choice>,
    title: String,
    body: String,
    send_at: String,
    plain_sms: bool,
    /// Households, SMS parts and price per household, after "preview".
    preview: Option<(i64, usize, i64)>,
    error: Option<String>,
    team_only: bool,
    topics: Vec<Choice>,
    teams: Vec<Choice>,
    expires_at: String,
}

#[derive(Default)]
pub struct NewForm {
    csrf: String,
    unit: String,
    title: String,
    body: String,
    urgency: String,
    topic: String,
    send_at: String,
    expires_at: String,
    plain_sms: Option<String>,
    no_smartphone: Option<String>,
    no_phone: Option<String>,
    /// Teams chosen instead of the unit (officers; repeated `team` fields).
    teams: Vec<String>,
    /// "preview" or "send".
    action: String,
}

impl NewForm {
    /// The form's fields as posted (`team` may repeat).
    fn from_pairs(pairs: Vec<(String, String)>) -> NewForm {
        let mut f = NewForm::default();
        for (k, v) in pairs {
            match k.as_str() {
                "csrf" => f.csrf = v,
                "unit" => f.unit = v,
                "title" => f.title = v,
                "body" => f.body = v,
                "urgency" => f.urgency = v,
                "topic" => f.topic = v,
                "send_at" => f.send_at = v,
                "expires_at" => f.expires_at = v,
                "plain_sms" => f.plain_sms = Some(v),
                "no_smartphone" => f.no_smartphone = Some(v),
                "no_phone" => f.no_phone = Some(v),
                "team" if f.teams.len() < 200 => f.teams.push(v),
                "action" => f.action = v,
                _ => {}
            }
        }
        f
    }
}

/// Teams an officer's form lists as checkboxes (a commune's); above this
/// the audience is chosen by unit only.
const TEAM_CHOICES: i64 = 300;

/// A writer who may address their own team only (a team leader): the
/// policy refuses them a unit's audience.
fn own_team_only(user: &User) -> bool {
    !user.may(Action::WriteAnnouncement, &Target::at(&user.p.scope.path))
}

async fn new_page(
    st: &AppState,
    user: &User,
    f: &NewForm,
    preview: Option<(i64, usize, i64)>,
    error: Option<String>,
) -> Page {
    let lang = user.lang;
    let mut units = Vec::new();
    let scope = &user.p.scope;
    if let Some(own) = user.p.unit_id {
        let me = st.store.unit(scope, own).await?;
        units.push(me.clone());
        if !own_team_only(user) {
            units.extend(st.store.children(scope, own, true).await?);
        }
    } else if let Some(team) = scope.team_id {
        // A team role has no unit of its own: it writes at its team's
        // hamlet, for its team (without it the list was empty).
        let hamlet = st.store.team(scope, team).await?.hamlet_id;
        units.push(st.store.unit(scope, hamlet).await?);
    }
    let units = units
        .into_iter()
        .map(|u| Choice {
            selected: f.unit == u.id.to_string(),
            value: u.id.to_string(),
            label: u.name,
        })
        .collect();
    let urgencies = Urgency::ALL
        .iter()
        .map(|u| Choice {
            value: u.as_str().into(),
            label: match lang {
                Lang::Vi => u.label_vi().into(),
                Lang::En => u.as_str().into(),
            },
            selected: f.urgency == u.as_str(),
        })
        .collect();
    let reach = vec![
        Choice {
            value: "no_smartphone".into(),
            label: pick(
                lang,
                "Chỉ hộ không có điện thoại thông minh",
                "Only households without a smartphone",
            )
            .into(),
            selected: f.no_smartphone.is_some(),
        },
        Choice {
            value: "no_phone".into(),
            label: pick(
                lang,
                "Chỉ hộ không có điện thoại",
                "Only households without a phone",
            )
            .into(),
            selected: f.no_phone.is_some(),
        },
    ];
    let topics = st
        .store
        .topics()
        .await?
        .into_iter()
        .filter(|t| !t.confidential)
        .map(|t| Choice {
            selected: f.topic == t.code,
            value: t.code,
            label: match lang {
                Lang::Vi => t.name_vi,
                Lang::En => t.name_en,
            },
        })
        .collect();
    let teams = if own_team_only(user) {
        Vec::new()
    } else {
        let viewer = Viewer::of(&user.p);
        let all = st.store.handout_teams(&viewer, TEAM_CHOICES + 1).await?;
        if all.len() as i64 > TEAM_CHOICES {
            Vec::new()
        } else {
            all.into_iter()
                .map(|(id, label)| Choice {
                    selected: f.teams.contains(&id.to_string()),
                    value: id.to_string(),
                    label,
                })
                .collect()
        }
    };
    let page = NewPage {
        c: chrome(user, "/announcements/new"),
        topics,
        teams,
        expires_at: f.expires_at.clone(),
        lang_vi: lang == Lang::Vi,
        units,
        urgencies,
        reach,
        title: f.title.clone(),
        body: f.body.clone(),
        send_at: f.send_at.clone(),
        plain_sms: f.plain_sms.is_some(),
        preview,
        error,
        team_only: own_team_only(user),
    };
    Ok(Html(page.render()?).into_response())
}

/// `GET /announcements/new`: the form.
pub async fn new_form(State(st): State<AppState>, user: User) -> Page {
    user.require(Action::WriteAnnouncement)?;
    new_page(&st, &user, &NewForm::default(), None, None).await
}

/// The announcement the form describes (the audience is the chosen unit,
/// or a team leader's own team).
fn from_form(
    user: &User,
    f: &NewForm,
) -> Result<danvan_store::announce::announcement::NewAnnouncement, String> {
    let unit: i64 = f
        .unit
        .trim()
        .parse()
        .map_err(|_| pick(user.lang, "Hãy chọn đơn vị", "Choose a unit").to_string())?;
    let local = |raw: &str, what: &str| -> Result<Option<i64>, String> {
        match raw.trim() {
            "" => Ok(None),
            s => chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M")
                .map(|t| Some(calendar::from_local(t)))
                .map_err(|_| what.to_string()),
        }
    };
    let send_at = local(
        &f.send_at,
        pick(
            user.lang,
            "Thời điểm gửi không hợp lệ",
            "Not a valid sending time",
        ),
    )?;
    let expires_at = local(
        &f.expires_at,
        pick(
            user.lang,
            "Thời điểm hết hạn không hợp lệ",
            "Not a valid expiry",
        ),
    )?;
    let teams: Vec<i64> = f
        .teams
        .iter()
        .map(|t| {
            t.trim()
                .parse()
                .map_err(|_| pick(user.lang, "Tổ không hợp lệ", "Not a valid team").to_string())
        })
        .collect::<Result<_, _>>()?;
    let mut reach = Vec::new();
    if f.no_phone.is_some() {
        reach.push("no_phone".to_string());
    } else if f.no_smartphone.is_some() {
        reach = vec!["basic_phone".into(), "no_phone".into()];
    }
    let audience = match (own_team_only(user), user.p.scope.team_id) {
        (true, Some(team)) => danvan_store::announce::announcement::Audience {
            units: vec![],
            teams: vec![team],
            reach,
        },
        // Chosen teams instead of the whole unit.
        _ if !teams.is_empty() => danvan_store::announce::announcement::Audience {
            units: vec![],
            teams,
            reach,
        },
        _ => danvan_store::announce::announcement::Audience {
            units: vec![unit],
            teams: vec![],
            reach,
        },
    };
    // A team leader writes at their hamlet; officers at their own unit.
    let at = user.p.unit_id.unwrap_or(unit);
    Ok(danvan_store::announce::announcement::NewAnnouncement {
        unit_id: at,
        title: f.title.clone(),
        body: f.body.clone(),
        topic: Some(f.topic.clone()).filter(|t| !t.trim().is_empty()),
        urgency: Urgency::parse(&f.urgency).unwrap_or(Urgency::Normal),
        audience,
        plain_sms: f.plain_sms.is_some(),
        send_at,
        expires_at,
    })
}

/// `POST /announcements/new`: "preview" shows the households and the SMS
/// cost without writing anything; "send" writes it (and plans it when it
/// is approved and due). Bad input comes back in the form, in Vietnamese.
pub async fn new_submit(
    State(st): State<AppState>,
    user: User,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Page {
    let f = NewForm::from_pairs(pairs);
    user.check_csrf(&f.csrf)?;
    user.require(Action::WriteAnnouncement)?;
    let new = match from_form(&user, &f) {
        Ok(n) => n,
        Err(e) => return new_page(&st, &user, &f, None, Some(e)).await,
    };
    let viewer = Viewer::of(&user.p);
    if f.action != "send" {
        return match st.store.preview_announcement(&viewer, &new).await {
            Ok((households, plan)) => {
                let price = plan.parts as i64 * crate::announce_api::SMS_PART_PRICE_VND;
                new_page(&st, &user, &f, Some((households, plan.parts, price)), None).await
            }
            Err(e) => new_page(&st, &user, &f, None, Some(message(user.lang, e))).await,
        };
    }
    match st.store.create_announcement(&viewer, &new).await {
        Ok(a) => {
            st.store
                .plan_due_announcements(st.public_url.as_deref())
                .await?;
            Ok(Redirect::to(&format!("/announcements/{}", a.id)).into_response())
        }
        Err(e) => new_page(&st, &user, &f, None, Some(message(user.lang, e))).await,
    }
}

/// A refusal as the form shows it; anything else is the error page's.
fn message(lang: Lang, e: danvan_store::StoreError) -> String {
    match e {
        danvan_store::StoreError::NotFound => pick(
            lang,
            "Không tìm thấy đơn vị đã chọn",
            "The unit chosen was not found",
        )
        .into(),
        danvan_store::StoreError::Db(_)
        | danvan_store::StoreError::Io(_)
        | danvan_store::StoreError::Migrate(_)
        | danvan_store::StoreError::Internal(_)
        | danvan_store::StoreError::Config(_) => {
            tracing::error!(error = %e, "announcement form failed");
            pick(
                lang,
                "Lỗi hệ thống, xin thử lại",
                "Something went wrong, please try again",
            )
            .into()
        }
        other => WebError::from(other).message(lang),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reach_is_hourly_for_a_day_then_in_longer_steps() {
        assert_eq!(reach_steps(0), (vec![1], false));
        assert_eq!(reach_steps(90 * 60), (vec![1, 2], false));
        assert_eq!(reach_steps(24 * 3600), ((1..=24).collect(), false));
        // 30 hours: steps of 2 hours, 15 points.
        let (steps, capped) = reach_steps(30 * 3600);
        assert_eq!(steps, (1..=15).map(|i| i * 2).collect::<Vec<_>>());
        assert!(!capped);
        // A month: two weeks in 24 steps of 14 hours, the last holds the rest.
        let (steps, capped) = reach_steps(30 * 86_400);
        assert_eq!(steps.len(), 24);
        assert_eq!(steps.last(), Some(&336));
        assert!(capped);
    }

    #[test]
    fn the_last_point_holds_every_household_reached() {
        let r = ReachReport {
            sent_at: Some(1_000_000),
            by_channel: vec![
                (DeliveryChannel::Sms, DeliveryState::Delivered, 3),
                (DeliveryChannel::Visit, DeliveryState::Planned, 2),
            ],
            reached_by_hour: vec![
                (DeliveryChannel::Sms, 0, 1),
                (DeliveryChannel::Sms, 2, 1),
                (DeliveryChannel::Sms, 40, 1),
            ],
            ..ReachReport::default()
        };
        // Three hours after sending: 1, 1, 2 and then the late one too.
        let c = reach_chart(Lang::Vi, &r, 1_000_000 + 3 * 3600).unwrap();
        assert_eq!(c.channels, ["Tin nhắn SMS", "Tổ dân vận đến báo"]);
        let cells: Vec<Vec<String>> = c.rows.iter().map(|r| r.cells.clone()).collect();
        assert_eq!(cells, [["1", "0"], ["1", "0"], ["3", "0"]]);
        assert_eq!(c.svg.0.matches("class=\"mark\"").count(), 6);
        assert!(reach_chart(Lang::Vi, &ReachReport::default(), 0).is_none());
    }
}
