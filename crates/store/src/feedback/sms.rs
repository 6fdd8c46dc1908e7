//! Incoming SMS: a new report ("PA <topic> <text>"), a reply to one
//! ("TL <code> <text>"), an "OK", or anything else — which always gets a
//! helpful answer, never silence. The answer is returned as text; the
//! gateway sends it back to the sender.

use danvan_domain::calendar;
use danvan_domain::feedback::{
    parse_sms, report_topic, sms_help, Channel, FeedbackState, Severity, SmsCommand, TrackingCode,
    UnknownSms,
};
use danvan_domain::{text, Phone};

use crate::feedback::NewFeedback;
use crate::{on_db, Actor, Result, Scope, Store, StoreError};

/// What happened to an incoming message (for the caller's log: no content).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmsHandled {
    Reported(String),
    Replied(String),
    Rated(String),
    Acknowledged,
    Help(&'static str),
}

impl SmsHandled {
    pub fn kind(&self) -> &'static str {
        match self {
            SmsHandled::Reported(_) => "reported",
            SmsHandled::Replied(_) => "replied",
            SmsHandled::Rated(_) => "rated",
            SmsHandled::Acknowledged => "acknowledged",
            SmsHandled::Help(why) => why,
        }
    }
}

impl Store {
    /// Handles one incoming SMS from `from`; returns the reply to send and
    /// what was done. `gateway_id` (the gateway's message id, when it has
    /// one) makes a redelivered message create nothing twice.
    pub async fn sms_inbound(
        &self,
        from: &str,
        body: &str,
        gateway_id: Option<&str>,
    ) -> Result<(String, SmsHandled)> {
        let Ok(phone) = Phone::parse(from) else {
            return Ok((
                sms_help(&UnknownSms::NoKeyword),
                SmsHandled::Help("bad_sender"),
            ));
        };
        let actor = Actor {
            account_id: None,
            name: "sms".into(),
        };
        match parse_sms(body) {
            SmsCommand::Report { words, text } => {
                let topics = self.topics().await?;
                // Every topic answers to its code, its folded name and its keywords.
                let mut keys: Vec<(String, String)> = Vec::new();
                for t in &topics {
                    keys.push((t.code.replace('_', " "), t.code.clone()));
                    keys.push((text::fold(&t.name_vi), t.code.clone()));
                    for k in t
                        .keywords
                        .split(',')
                        .map(str::trim)
                        .filter(|k| !k.is_empty())
                    {
                        keys.push((k.to_string(), t.code.clone()));
                    }
                }
                let key_refs: Vec<(&str, String)> =
                    keys.iter().map(|(k, c)| (k.as_str(), c.clone())).collect();
                let (topic, rest) = match report_topic(&words, &text, &key_refs) {
                    Ok(found) => found,
                    Err(why) => return Ok((sms_help(&why), SmsHandled::Help(why.as_str()))),
                };
                let Some(hamlet_id) = self.hamlet_of_phone(&phone).await? else {
                    return Ok((
                        "So dien thoai nay chua co trong danh sach ho dan cua xa. Hay bao to dan van cua thon hoac gui phan anh tren trang web cua xa.".into(),
                        SmsHandled::Help("unknown_sender"),
                    ));
                };
                let new = NewFeedback {
                    topic,
                    severity: Severity::Normal,
                    channel: Channel::Sms,
                    description: rest.to_string(),
                    hamlet_id,
                    lat: None,
                    lon: None,
                    reporter_name: None,
                    reporter_phone: Some(phone.as_str().to_string()),
                    anonymous: false,
                    household_id: None,
                    resident_id: None,
                    relay_method: None,
                    identity_consent: false,
                    submission_key: gateway_id.map(|id| format!("sms:{id}")),
                    photos: Vec::new(),
                };
                match self.submit_feedback(&actor, &Scope::all(), &new).await {
                    Ok(r) => {
                        let code =
                            TrackingCode::parse(&r.code).map_or(r.code.clone(), |c| c.display());
                        let reply = format!(
                            "Da nhan phan anh, ma {code}. Han xu ly: {}. Nhan them: TL {code} <noi dung>",
                            calendar::to_local(r.resolve_due).format("%H:%M %d/%m/%Y")
                        );
                        Ok((reply, SmsHandled::Reported(r.code)))
                    }
                    Err(StoreError::Invalid { .. }) | Err(StoreError::Rejected(_)) => Ok((
                        sms_help(&UnknownSms::ReportWithoutText),
                        SmsHandled::Help("rejected"),
                    )),
                    Err(e) => Err(e),
                }
            }
            SmsCommand::Reply { code, text } => {
                match self.reporter_reply(code.as_str(), Some(&phone), &text).await {
                    Ok(state) => {
                        let reply = if state == FeedbackState::Reopened {
                            format!("Da mo lai phan anh {code}; xa se xem xet lai.")
                        } else {
                            format!("Da nhan tin nhan cho phan anh {code}.")
                        };
                        Ok((reply, SmsHandled::Replied(code.as_str().to_string())))
                    }
                    Err(StoreError::NotFound) => Ok((
                        format!("Khong tim thay phan anh {code} gui tu so dien thoai nay. Kiem tra lai ma."),
                        SmsHandled::Help("unknown_code"),
                    )),
                    Err(StoreError::Invalid { .. }) => Ok((
                        sms_help(&UnknownSms::ReplyWithoutText),
                        SmsHandled::Help("rejected"),
                    )),
                    Err(e) => Err(e),
                }
            }
            SmsCommand::Rate { code, stars } => {
                match self.rate_feedback(code.as_str(), Some(&phone), stars).await {
                    Ok(()) => Ok((
                        format!("Cam on ong/ba da danh gia {stars}/5 cho phan anh {code}."),
                        SmsHandled::Rated(code.as_str().to_string()),
                    )),
                    Err(StoreError::NotFound) => Ok((
                        format!("Khong tim thay phan anh {code} gui tu so dien thoai nay. Kiem tra lai ma."),
                        SmsHandled::Help("unknown_code"),
                    )),
                    Err(StoreError::Conflict(_)) | Err(StoreError::Rejected(_)) => Ok((
                        format!("Phan anh {code} chua co tra loi de danh gia."),
                        SmsHandled::Help("not_answered"),
                    )),
                    Err(e) => Err(e),
                }
            }
            SmsCommand::Ack => {
                if self.acknowledge_by_sms(&phone).await? {
                    Ok(("Cam on, da ghi nhan.".into(), SmsHandled::Acknowledged))
                } else {
                    Ok((
                        "Cam on. Khong co thong bao nao dang cho ban xac nhan.".into(),
                        SmsHandled::Help("nothing_to_acknowledge"),
                    ))
                }
            }
            SmsCommand::Unknown { why } => Ok((sms_help(&why), SmsHandled::Help(why.as_str()))),
        }
    }

    /// "OK" from a phone: the newest announcement SMS sent to it is
    /// acknowledged. False when none was sent to that number.
    async fn acknowledge_by_sms(&self, phone: &Phone) -> Result<bool> {
        let now = self.now();
        let last: Option<(i64,)> = on_db!(&self.db, |p| {
            sqlx::query_as(
            "SELECT delivery_id FROM outbox WHERE recipient = $1 AND announcement_id IS NOT NULL \
             AND delivery_id IS NOT NULL AND state IN ('sending', 'sent', 'delivered') ORDER BY id DESC LIMIT 1"
        )
        .bind(phone.as_str())
        .fetch_optional(p)
        .await?
        });
        let Some((delivery,)) = last else {
            return Ok(false);
        };
        on_db!(&self.db, |p| {
            let mut c = p.acquire().await?;
            crate::announce::delivery::sms_acknowledged(&mut *c, delivery, now).await?;
        });
        Ok(true)
    }

    /// The hamlet of the household whose resident (or household) has this
    /// phone number, if exactly one place knows it.
    async fn hamlet_of_phone(&self, phone: &Phone) -> Result<Option<i64>> {
        let found: Vec<(i64,)> = on_db!(&self.db, |p| {
            sqlx::query_as(
            "SELECT DISTINCT h.hamlet_id FROM residents r JOIN households h ON h.id = r.household_id \
             WHERE r.phone_digits = $1 LIMIT 2"
        )
        .bind(phone.digits())
        .fetch_all(p)
        .await?
        });
        Ok(match found.as_slice() {
            [(h,)] => Some(*h),
            _ => None,
        })
    }
}
