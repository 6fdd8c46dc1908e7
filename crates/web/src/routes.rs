//! The route table: every route of the app, declared once, each with its
//! access and the kinds of its path parameters.
//!
//! A route can only be added through [`At`]'s `get`/`post`/`put`/`delete`,
//! which take an [`Access`]: the same call registers the axum route and
//! records its [`RouteSpec`], so the router and [`table`] cannot differ.
//! An `Access::Can(action)` is also enforced here, at the door: a signed-in
//! person whose role never has the action is refused (403,
//! `forbidden.role`) before the handler runs. What lies beyond the role —
//! the scope, a leader, the writer, the province's rule — is the store's
//! decision ([`danvan_store::viewer::Viewer::require`]).
//!
//! `tests/it/route_policy.rs` walks [`table`] for every role, in and out of
//! scope, and checks every answer against `danvan_domain::policy`.

use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{on, MethodFilter, MethodRouter};
use axum::{Extension, Router};
use danvan_domain::policy::{self, Action, Denial};
use danvan_store::{Store, StoreError};

use crate::api::ApiError;
use crate::auth::{api_caller, page_caller};
use crate::error::WebError;
use crate::{
    accounts, alerts, announce_api, announce_pages, api, assets, feedback_pages, gateway, keeping,
    loudspeaker, materials, open311, pages, print, relay, report, reporter, sms, AppState,
    MAX_FORM_BYTES, MAX_UPLOAD_BYTES,
};

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, signed in or not (the public report, feeds, Open311 reads).
    Public,
    /// The SMS gateway, by its gateway key (`key`); no person's key opens it.
    Gateway,
    /// Any person's API key in the request's `api_key` field (Open311).
    ApiKey,
    /// Any signed-in person; what they see is filtered by the store to
    /// their part of the tree.
    Signed,
    /// A signed-in person whose role has the action
    /// (`policy::offered`), refused at the door otherwise; the store
    /// decides the rest.
    Can(Action),
}

/// What a path parameter names, so that a test can fill it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Param {
    /// Any unit of the tree (province … hamlet).
    Unit,
    /// A hamlet.
    Hamlet,
    Team,
    Household,
    Resident,
    /// A feedback item's id.
    Feedback,
    /// The number of a photo of a report (1, 2, …).
    Photo,
    Announcement,
    Material,
    /// A report's tracking code.
    TrackingCode,
    /// A household's personal feed token.
    FeedToken,
    /// A file of `/static`.
    StaticFile,
    /// An Open311 document: `discovery.json`, `services.xml`, `requests.json`.
    Open311File,
    /// An Open311 service definition: `{service_code}.json`.
    Open311Service,
    /// An Open311 request: `{tracking code}.json`.
    Open311Request,
    /// A public CAP alert: `{announcement id}.xml`.
    CapAlert,
}

/// One method of one path, with its access.
#[derive(Debug, Clone)]
pub struct RouteSpec {
    pub method: Method,
    /// The path as axum matches it, e.g. `/households/{id}`.
    pub path: &'static str,
    pub access: Access,
    /// The kind of each `{…}` of the path, in order.
    pub params: &'static [Param],
    /// Largest request body.
    pub body_limit: usize,
}

impl RouteSpec {
    /// A JSON API route (under `/api/v1`).
    pub fn is_api(&self) -> bool {
        self.path.starts_with("/api/v1/")
    }
}

/// The table being built: the axum router and the list of specs, in step.
pub struct Table {
    router: Router<AppState>,
    specs: Vec<RouteSpec>,
}

impl Default for Table {
    fn default() -> Self {
        Table::new()
    }
}

impl Table {
    pub fn new() -> Table {
        Table {
            router: Router::new(),
            specs: Vec::new(),
        }
    }

    /// The routes of one path; `params` names each `{…}` of it.
    pub fn at(&mut self, path: &'static str, params: &'static [Param]) -> At<'_> {
        assert_eq!(
            path.matches('{').count(),
            params.len(),
            "{path}: one Param for each path parameter"
        );
        At {
            table: self,
            path,
            params,
            limit: MAX_FORM_BYTES,
        }
    }

    /// What answers a path under `prefix` that no route has (the API's JSON
    /// 404, Open311's own errors).
    pub fn fallback_under<H, T>(&mut self, prefix: &'static str, handler: H)
    where
        H: axum::handler::Handler<T, AppState>,
        T: 'static,
    {
        let router = std::mem::take(&mut self.router);
        self.router = router.nest(prefix, Router::new().fallback(handler));
    }

    pub fn specs(&self) -> &[RouteSpec] {
        &self.specs
    }

    pub fn into_router(self) -> Router<AppState> {
        self.router
    }
}

/// The routes of one path being declared.
pub struct At<'t> {
    table: &'t mut Table,
    path: &'static str,
    params: &'static [Param],
    limit: usize,
}

impl At<'_> {
    /// The largest body the methods declared after this accept
    /// (default [`MAX_FORM_BYTES`]).
    pub fn limit(mut self, bytes: usize) -> Self {
        self.limit = bytes;
        self
    }

    pub fn get<H, T>(self, access: Access, handler: H) -> Self
    where
        H: axum::handler::Handler<T, AppState>,
        T: 'static,
    {
        self.add(Method::GET, MethodFilter::GET, access, handler)
    }

    pub fn post<H, T>(self, access: Access, handler: H) -> Self
    where
        H: axum::handler::Handler<T, AppState>,
        T: 'static,
    {
        self.add(Method::POST, MethodFilter::POST, access, handler)
    }

    pub fn put<H, T>(self, access: Access, handler: H) -> Self
    where
        H: axum::handler::Handler<T, AppState>,
        T: 'static,
    {
        self.add(Method::PUT, MethodFilter::PUT, access, handler)
    }

    pub fn delete<H, T>(self, access: Access, handler: H) -> Self
    where
        H: axum::handler::Handler<T, AppState>,
        T: 'static,
    {
        self.add(Method::DELETE, MethodFilter::DELETE, access, handler)
    }

    /// What answers the methods this path does not have (instead of a bare
    /// 405).
    pub fn other_methods<H, T>(self, handler: H) -> Self
    where
        H: axum::handler::Handler<T, AppState>,
        T: 'static,
    {
        let router = std::mem::take(&mut self.table.router);
        self.table.router = router.route(self.path, MethodRouter::new().fallback(handler));
        self
    }

    fn add<H, T>(self, method: Method, filter: MethodFilter, access: Access, handler: H) -> Self
    where
        H: axum::handler::Handler<T, AppState>,
        T: 'static,
    {
        let mut route: MethodRouter<AppState> =
            on(filter, handler).layer(DefaultBodyLimit::max(self.limit));
        if let Access::Can(action) = access {
            let api = self.path.starts_with("/api/v1/");
            route = route.route_layer(axum::middleware::from_fn(
                move |Extension(store): Extension<Store>, req: Request, next: Next| {
                    door(action, api, store, req, next)
                },
            ));
        }
        let router = std::mem::take(&mut self.table.router);
        self.table.router = router.route(self.path, route);
        self.table.specs.push(RouteSpec {
            method,
            path: self.path,
            access,
            params: self.params,
            body_limit: self.limit,
        });
        self
    }
}

/// The door of an `Access::Can(action)` route: a role that never has the
/// action goes no further.
async fn door(action: Action, api: bool, store: Store, mut req: Request, next: Next) -> Response {
    let caller = if api {
        api_caller(&store, req.method(), req.headers()).await
    } else {
        page_caller(&store, req.headers()).await
    };
    match caller {
        Ok(Some(c)) if !policy::offered(c.p.role, action) => {
            let denied = StoreError::Denied(Denial::Role);
            if api {
                ApiError::from(denied).into_response()
            } else {
                WebError::from(denied).into_response()
            }
        }
        Ok(found) => {
            // The handler's extractor takes the caller from here.
            if let Some(c) = found {
                req.extensions_mut().insert(c);
            }
            next.run(req).await
        }
        Err(e) if api => ApiError::from(e).into_response(),
        Err(e) => WebError::from(e).into_response(),
    }
}

/// Every route of the app, as data (for the tests and the documentation).
pub fn table() -> Vec<RouteSpec> {
    build().specs
}

/// The app's routes without the layers every response gets (those are
/// [`crate::router_with_limits`]'s). Needs a [`Store`] extension for the
/// doors of `Access::Can` routes.
pub fn router() -> Router<AppState> {
    build().into_router()
}

fn build() -> Table {
    use Access::*;
    use Action as A;
    use Param as P;

    let mut t = Table::new();

    // ------------------------------------------------------------ pages
    t.at("/", &[]).get(Signed, pages::home);
    t.at("/login", &[])
        .get(Public, pages::login_form)
        .post(Public, pages::login);
    t.at("/logout", &[]).post(Signed, pages::logout);
    t.at("/lang", &[]).get(Public, pages::set_lang);
    t.at("/account/password", &[])
        .get(Signed, pages::password_form)
        .post(Signed, pages::password_change);
    t.at("/static/{file}", &[P::StaticFile])
        .get(Public, assets::serve);
    t.at("/healthz", &[]).get(Public, || async { "ok" });

    // The registry.
    t.at("/units", &[]).get(Can(A::ReadRegistry), pages::units);
    t.at("/units/{id}", &[P::Unit])
        .get(Can(A::ReadRegistry), pages::unit);
    t.at("/units/{id}/history", &[P::Unit])
        .get(Can(A::ReadRegistry), pages::unit_history);
    t.at("/teams/{id}", &[P::Team])
        .get(Can(A::ReadRegistry), pages::team);
    t.at("/households/{id}", &[P::Household])
        .get(Can(A::ReadRegistry), pages::household);
    t.at("/households/{id}/team", &[P::Household])
        .post(Can(A::AssignHousehold), pages::household_team);
    t.at("/households/{id}/feedback", &[P::Household])
        .get(Can(A::RelayFeedback), relay::form)
        .post(Can(A::RelayFeedback), relay::submit);
    t.at("/residents/{id}/edit", &[P::Resident])
        .get(Can(A::EditResident), pages::resident_edit)
        .post(Can(A::EditResident), pages::resident_save);
    t.at("/search", &[])
        .get(Can(A::ReadRegistry), pages::search);
    t.at("/import", &[])
        .limit(MAX_UPLOAD_BYTES + 64 * 1024)
        .get(Can(A::ImportRegistry), pages::import_form)
        .post(Can(A::ImportRegistry), pages::import_upload);
    t.at("/export", &[])
        .post(Can(A::ExportRegistry), pages::export);
    t.at("/audit", &[]).get(Can(A::ReadAudit), pages::audit);
    t.at("/admin/keys", &[])
        .get(Can(A::ManageAccounts), accounts::keys);
    t.at("/admin/keys/revoke", &[])
        .post(Can(A::ManageAccounts), accounts::revoke);
    t.at("/admin/accounts/disable", &[])
        .post(Can(A::ManageAccounts), accounts::disable);

    // Keeping the registry on pages (issue 14): the tree, teams and
    // members, the roster, accounts.
    t.at("/units/{id}/units", &[P::Unit])
        .post(Can(A::ManageUnits), keeping::unit_add);
    t.at("/units/{id}/rename", &[P::Unit])
        .post(Can(A::ManageUnits), keeping::unit_rename);
    t.at("/units/{id}/move", &[P::Unit])
        .post(Can(A::ManageUnits), keeping::unit_move);
    t.at("/units/{id}/merge", &[P::Unit])
        .post(Can(A::ManageUnits), keeping::unit_merge);
    t.at("/units/{id}/split", &[P::Unit])
        .get(Can(A::ManageUnits), keeping::unit_split_form)
        .post(Can(A::ManageUnits), keeping::unit_split);
    t.at("/units/{id}/teams", &[P::Unit])
        .post(Can(A::ManageTeams), keeping::team_add);
    t.at("/units/{id}/roster", &[P::Unit])
        .get(Can(A::AssignHousehold), keeping::roster)
        .post(Can(A::AssignHousehold), keeping::roster_move);
    t.at("/teams/{id}/rename", &[P::Team])
        .post(Can(A::ManageTeams), keeping::team_rename);
    t.at("/teams/{id}/close", &[P::Team])
        .post(Can(A::ManageTeams), keeping::team_close);
    t.at("/teams/{id}/members", &[P::Team])
        .post(Can(A::ManageTeams), keeping::member_add);
    t.at("/teams/{id}/members/end", &[P::Team])
        .post(Can(A::ManageTeams), keeping::member_end);
    t.at("/teams/{id}/members/move", &[P::Team])
        .post(Can(A::ManageTeams), keeping::member_move);
    t.at("/accounts", &[])
        .get(Can(A::ManageAccounts), accounts::accounts)
        .post(Can(A::ManageAccounts), accounts::create);
    t.at("/accounts/reset", &[])
        .post(Can(A::ManageAccounts), accounts::reset);
    t.at("/password/setup", &[])
        .get(Public, accounts::setup_form)
        .post(Public, accounts::setup);

    // Feedback, for officials.
    t.at("/feedback", &[])
        .get(Can(A::ReadFeedback), feedback_pages::inbox);
    t.at("/feedback/assign", &[])
        .post(Can(A::HandleFeedback), feedback_pages::bulk_assign);
    t.at("/feedback/templates", &[])
        .post(Can(A::ManageAnswerTemplates), feedback_pages::add_template);
    t.at("/feedback/notices/read", &[])
        .post(Can(A::ReadFeedback), feedback_pages::read_notices);
    t.at("/feedback/dashboard", &[])
        .get(Can(A::ReadFeedback), feedback_pages::dashboard);
    t.at("/feedback/dashboard.xlsx", &[])
        .get(Can(A::ReadFeedback), feedback_pages::dashboard_xlsx);
    t.at("/feedback/{id}", &[P::Feedback])
        .get(Can(A::ReadFeedback), feedback_pages::item);
    // A note is anyone's; the other actions are decided by the store.
    t.at("/feedback/{id}/act", &[P::Feedback])
        .post(Can(A::ReadFeedback), feedback_pages::act);
    t.at("/feedback/{id}/photos/{n}", &[P::Feedback, P::Photo])
        .get(Can(A::ReadFeedback), feedback_pages::photo);

    // Reports from the public, and the reporter's status page.
    t.at("/report", &[])
        .limit(report::MAX_REPORT_BYTES)
        .get(Public, report::form)
        .post(Public, report::submit);
    t.at("/report/sent/{code}", &[P::TrackingCode])
        .get(Public, report::sent);
    t.at("/r/{code}", &[P::TrackingCode])
        .get(Public, report::status);
    t.at("/r/{code}/photos/{n}", &[P::TrackingCode, P::Photo])
        .get(Public, report::photo);
    t.at("/r/{code}/verify", &[P::TrackingCode])
        .limit(report::MAX_REPORT_BYTES)
        .post(Public, reporter::verify);
    t.at("/r/{code}/rate", &[P::TrackingCode])
        .limit(report::MAX_REPORT_BYTES)
        .post(Public, reporter::rate);
    t.at("/r/{code}/reply", &[P::TrackingCode])
        .limit(report::MAX_REPORT_BYTES)
        .post(Public, reporter::reply);

    // Announcements.
    t.at("/announcements", &[])
        .get(Signed, announce_pages::list);
    t.at("/announcements/new", &[])
        .get(Can(A::WriteAnnouncement), announce_pages::new_form)
        .post(Can(A::WriteAnnouncement), announce_pages::new_submit);
    t.at("/announcements/settings", &[])
        .post(Can(A::SetApprovalRule), announce_pages::settings);
    t.at("/announcements/{id}", &[P::Announcement])
        .get(Signed, announce_pages::reach);
    t.at("/announcements/{id}/approve", &[P::Announcement])
        .post(Can(A::ApproveAnnouncement), announce_pages::approve);
    t.at("/announcements/{id}/withdraw", &[P::Announcement])
        .post(Can(A::WithdrawAnnouncement), announce_pages::withdraw);
    t.at("/announcements/{id}/inform", &[P::Announcement])
        .post(Can(A::InformHousehold), announce_pages::inform);
    t.at("/announcements/{id}/recording", &[P::Announcement])
        .limit(danvan_media::speech::MAX_RECORDING_BYTES + 64 * 1024)
        .post(Can(A::RecordVoice), loudspeaker::recording_upload);
    t.at("/announcements/{id}/recording/delete", &[P::Announcement])
        .post(Can(A::RecordVoice), loudspeaker::recording_delete);
    t.at("/feed/{token}", &[P::FeedToken])
        .get(Public, announce_pages::feed);
    t.at("/hamlets/{id}/announcements", &[P::Hamlet])
        .get(Public, announce_pages::hamlet);
    t.at("/hamlets/{id}/loudspeaker", &[P::Hamlet])
        .get(Can(A::ListenBroadcast), loudspeaker::page);
    t.at("/hamlets/{id}/loudspeaker.csv", &[P::Hamlet])
        .get(Can(A::ListenBroadcast), loudspeaker::schedule_csv);
    t.at("/hamlets/{id}/loudspeaker/slots", &[P::Hamlet])
        .post(Can(A::SetBroadcastTimes), loudspeaker::slots_save);
    t.at("/cap/v1/alerts.atom", &[]).get(Public, alerts::feed);
    t.at("/cap/v1/alerts/{file}", &[P::CapAlert])
        .get(Public, alerts::public_alert);

    // Materials.
    t.at("/materials", &[]).get(Signed, materials::list);
    t.at("/materials/new", &[])
        .limit(MATERIAL_BYTES)
        .get(Can(A::UploadMaterial), materials::new_form)
        .post(Can(A::UploadMaterial), materials::new_submit);
    t.at("/materials/{id}", &[P::Material])
        .get(Signed, materials::detail);
    t.at("/materials/{id}/file", &[P::Material])
        .get(Signed, materials::file);
    t.at("/materials/{id}/handout", &[P::Material])
        .post(Can(A::HandOutMaterial), materials::handout);
    t.at("/materials/{id}/receipt", &[P::Material])
        .post(Can(A::AcknowledgeMaterial), materials::receipt);
    t.at("/materials/{id}/given", &[P::Material])
        .post(Can(A::AcknowledgeMaterial), materials::given);
    t.at("/materials/{id}/remove", &[P::Material])
        .post(Can(A::RemoveMaterial), materials::remove);

    // The SMS gateway's calls.
    t.at("/sms/inbound", &[])
        .get(Gateway, sms::inbound_get)
        .post(Gateway, sms::inbound_post);
    t.at("/sms/report", &[]).get(Gateway, gateway::report);

    // ------------------------------------------------------------ JSON API
    t.at("/api/v1/openapi.json", &[]).get(Public, api::openapi);
    t.at("/api/v1/units", &[])
        .get(Can(A::ReadRegistry), api::units);
    t.at("/api/v1/units/{id}", &[P::Unit])
        .get(Can(A::ReadRegistry), api::unit);
    t.at("/api/v1/units/{id}/children", &[P::Unit])
        .get(Can(A::ReadRegistry), api::children);
    t.at("/api/v1/units/{id}/history", &[P::Unit])
        .get(Can(A::ReadRegistry), api::history);
    t.at("/api/v1/teams/{id}", &[P::Team])
        .get(Can(A::ReadRegistry), api::team);
    t.at("/api/v1/households/{id}", &[P::Household])
        .get(Can(A::ReadRegistry), api::household);
    t.at("/api/v1/search", &[])
        .get(Can(A::ReadRegistry), api::search);
    t.at("/api/v1/feedback", &[])
        .post(Signed, api::feedback_create);
    t.at("/api/v1/feedback/{id}", &[P::Feedback])
        .get(Can(A::ReadFeedback), api::feedback_get);
    t.at("/api/v1/units/{id}/feedback-summary", &[P::Unit])
        .get(Can(A::ReadFeedback), api::feedback_summary);
    t.at("/api/v1/announcements", &[])
        .post(Can(A::WriteAnnouncement), announce_api::create);
    t.at("/api/v1/announcements/{id}", &[P::Announcement])
        .get(Signed, announce_api::get_one);
    t.at("/api/v1/announcements/{id}/approve", &[P::Announcement])
        .post(Can(A::ApproveAnnouncement), announce_api::approve);
    t.at("/api/v1/announcements/{id}/withdraw", &[P::Announcement])
        .post(Can(A::WithdrawAnnouncement), announce_api::withdraw);
    t.at("/api/v1/announcements/{id}/reach", &[P::Announcement])
        .get(Signed, announce_api::reach);
    t.at("/api/v1/announcements/{id}/cap.xml", &[P::Announcement])
        .get(Signed, alerts::api_alert);
    t.at("/api/v1/announcements/{id}/poster.pdf", &[P::Announcement])
        .get(Signed, print::poster);
    t.at("/api/v1/announcements/{id}/leaflet.pdf", &[P::Announcement])
        .get(Signed, print::leaflet);
    t.at("/api/v1/announcements/{id}/audio.wav", &[P::Announcement])
        .get(Signed, loudspeaker::wav);
    t.at("/api/v1/announcements/{id}/audio.ogg", &[P::Announcement])
        .get(Signed, loudspeaker::ogg);
    t.at("/api/v1/announcements/{id}/recording", &[P::Announcement])
        .limit(danvan_media::speech::MAX_RECORDING_BYTES + 64 * 1024)
        .put(Can(A::RecordVoice), loudspeaker::api_recording_put)
        .delete(Can(A::RecordVoice), loudspeaker::api_recording_delete);
    t.at("/api/v1/units/{id}/announcement-settings", &[P::Unit])
        .get(Signed, announce_api::settings_get)
        .put(Can(A::SetApprovalRule), announce_api::settings_put);
    t.at("/api/v1/units/{id}/loudspeaker-slots", &[P::Hamlet])
        .get(Can(A::ListenBroadcast), loudspeaker::api_slots_get)
        .put(Can(A::SetBroadcastTimes), loudspeaker::api_slots_put);
    t.at("/api/v1/materials", &[])
        .limit(MATERIAL_BYTES)
        .get(Signed, materials::api_list)
        .post(Can(A::UploadMaterial), materials::api_create);
    t.at("/api/v1/materials/{id}", &[P::Material])
        .get(Signed, materials::api_detail)
        .delete(Can(A::RemoveMaterial), materials::api_remove);
    t.at("/api/v1/materials/{id}/file", &[P::Material])
        .get(Signed, materials::api_file);
    t.at("/api/v1/materials/{id}/handouts", &[P::Material])
        .post(Can(A::HandOutMaterial), materials::api_handout);
    t.at("/api/v1/materials/{id}/receipt", &[P::Material])
        .post(Can(A::AcknowledgeMaterial), materials::api_receipt);
    t.fallback_under("/api/v1", || async {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", "Không tìm thấy")
    });

    // ------------------------------------------------------------ Open311
    t.at("/open311/v2/{file}", &[P::Open311File])
        .get(Public, open311::top_get)
        .post(ApiKey, open311::top_post)
        .other_methods(open311::method_not_allowed);
    t.at("/open311/v2/services/{file}", &[P::Open311Service])
        .get(Public, open311::service_definition)
        .other_methods(open311::method_not_allowed);
    t.at("/open311/v2/requests/{file}", &[P::Open311Request])
        .get(Public, open311::request_by_id)
        .other_methods(open311::method_not_allowed);
    t.at("/open311/v2/tokens/{file}", &[P::Open311Request])
        .get(Public, open311::token_lookup)
        .other_methods(open311::method_not_allowed);
    t.fallback_under("/open311/v2", open311::not_found_anywhere);

    t
}

/// A material's upload: the file and the form around it.
const MATERIAL_BYTES: usize = danvan_domain::material::MAX_MATERIAL_BYTES + 64 * 1024;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_declared_once_with_its_parameters() {
        let specs = table();
        let mut seen = std::collections::HashSet::new();
        for s in &specs {
            assert!(
                seen.insert((s.method.clone(), s.path)),
                "{} {} twice",
                s.method,
                s.path
            );
        }
        assert!(specs.len() > 90, "{} routes", specs.len());
    }
}
