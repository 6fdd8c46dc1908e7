//! `danvan bench --suite audio`: the speed target of issue 4, a one-minute
//! announcement made into loudspeaker audio in at most 5 s.

use std::time::Instant;

use anyhow::{anyhow, Result};
use danvan_domain::loudspeaker::Voice;
use danvan_media::speech;

const TARGET_S: f64 = 5.0;

/// A hamlet's announcement of about 200 syllables (Vietnamese writes each
/// apart, so they count as words): a minute read aloud.
const BODY: &str = "Thực hiện kế hoạch của Ủy ban nhân dân xã về phòng chống dịch sốt xuất huyết \
trong mùa mưa năm nay, ban quản lý thôn thông báo tới toàn thể bà con nhân dân như sau. \
Sáng Chủ nhật tuần này, từ bảy giờ đến mười một giờ, các tổ dân vận sẽ phối hợp với trạm y tế xã \
tổ chức phun thuốc diệt muỗi tại tất cả các hộ gia đình trong thôn. Đề nghị mỗi hộ cử người ở nhà, \
mở cửa, che đậy thức ăn, nước uống và chuồng trại trước khi phun. Người có biểu hiện sốt cao đột ngột, đau đầu, \
đau mỏi người, phát ban hoặc chảy máu chân răng cần đến ngay trạm y tế xã để được khám, \
không tự ý điều trị tại nhà. Các tổ trưởng tổ dân vận có trách nhiệm đến từng hộ nhắc nhở, \
ghi lại những hộ vắng nhà để bố trí phun bù vào chiều cùng ngày. Ban quản lý thôn đề nghị bà con nghiêm túc thực hiện, \
cùng nhau giữ gìn vệ sinh môi trường, bảo vệ sức khỏe cho gia đình mình và cả cộng đồng.";

/// Synthesizes the announcement in each voice (the broadcast WAV, and the
/// Opus file from it) and prints a markdown table.
pub async fn run() -> Result<()> {
    let text = speech::script("Thông báo phun thuốc diệt muỗi", BODY, false);
    let words = text.split_whitespace().count();
    println!("Announcement: {words} words\n");
    println!("| voice | audio | WAV made in | Opus made in | target | met |");
    println!("| --- | --- | --- | --- | --- | --- |");
    for voice in Voice::ALL {
        let t = Instant::now();
        let wav = speech::broadcast_wav(&text, voice)
            .await
            .map_err(|e| anyhow!("{e}"))?;
        let wav_s = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let ogg = speech::to_opus(&wav).await.map_err(|e| anyhow!("{e}"))?;
        let ogg_s = t.elapsed().as_secs_f64();
        let made = speech::read_wav(&wav).map_err(|e| anyhow!("{e}"))?;
        let seconds = made.samples.len() as f64 / made.rate as f64;
        println!(
            "| {} | {seconds:.1} s ({} kB WAV, {} kB Opus) | {wav_s:.2} s | {ogg_s:.2} s | ≤ {TARGET_S} s for the WAV | {} |",
            voice.as_str(),
            wav.len() / 1024,
            ogg.len() / 1024,
            if wav_s <= TARGET_S { "yes" } else { "**no**" }
        );
    }
    Ok(())
}
