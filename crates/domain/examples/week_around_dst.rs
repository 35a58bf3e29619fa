//! Slots of the seed service ("1-Hour Consultation", Mon–Fri 09:00–17:00
//! America/New_York, 60 minutes) for 2024-03-06..=2024-03-13, around the
//! 2024-03-10 start of daylight saving time: 09:00 local is 14:00Z before the
//! change and 13:00Z after it.
//!
//! Run with `cargo run --example week_around_dst`.

use booking_domain::scheduling::{self, BusyTimes, SlotRules};
use booking_domain::{
    LocalTime, Minutes, Timezone, ValidationError, WeekdaySet, WeeklyAvailability,
};
use jiff::Timestamp;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let timezone = Timezone::parse("America/New_York")?;
    let availability = WeeklyAvailability::new(
        WeekdaySet::parse(&["monday", "tuesday", "wednesday", "thursday", "friday"])?,
        LocalTime::parse("09:00", "hours.start")?,
        LocalTime::parse("17:00", "hours.end")?,
        timezone.clone(),
    )?;
    let rules = SlotRules::new(&availability, Minutes::new(60));
    let week = scheduling::local_day_range(&timezone, "2024-03-06".parse()?, "2024-03-13".parse()?)
        .ok_or_else(|| ValidationError::new("range", "empty"))?;
    // Pretend it is long before the week, with nothing booked.
    let now: Timestamp = "2024-01-01T00:00:00Z".parse()?;
    let slots = scheduling::slots(&rules, week, now, &BusyTimes::default());

    println!("1-Hour Consultation, {} ({} slots)", timezone, slots.len());
    let tz = timezone.tz();
    let mut current_day = None;
    for slot in &slots {
        let local = slot.start.to_zoned(tz.clone());
        if current_day != Some(local.date()) {
            current_day = Some(local.date());
            println!("\n{} ({})", local.date(), local.strftime("%A, UTC%:z"));
        }
        println!(
            "  {}-{}  =  {} .. {}",
            local.strftime("%H:%M"),
            slot.end.to_zoned(tz.clone()).strftime("%H:%M %Z"),
            slot.start,
            slot.end,
        );
    }
    Ok(())
}
