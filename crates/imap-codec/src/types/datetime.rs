//! Dates (RFC 3501 `date`, `date-time`): plain validated fields, no time-zone database.

use super::core::ValidationError;

pub(crate) const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `date = date-text / DQUOTE date-text DQUOTE`, `date-text = date-day "-" date-month "-"
/// date-year`: a calendar date (used by SEARCH).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Date {
    year: u16,
    month: u8,
    day: u8,
}

impl Date {
    /// Validates and builds a date (year 0-9999, month 1-12, day 1-31).
    pub fn new(year: u16, month: u8, day: u8) -> Result<Self, ValidationError> {
        if year > 9999 || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
            return Err(ValidationError::Invalid {
                what: "date",
                reason: "field out of range",
            });
        }
        Ok(Self { year, month, day })
    }
    /// The year.
    pub fn year(&self) -> u16 {
        self.year
    }
    /// The month, 1-12.
    pub fn month(&self) -> u8 {
        self.month
    }
    /// The day of the month, 1-31.
    pub fn day(&self) -> u8 {
        self.day
    }
}

/// `date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP zone DQUOTE`:
/// INTERNALDATE and APPEND dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DateTime {
    date: Date,
    hour: u8,
    minute: u8,
    second: u8,
    offset_minutes: i16,
}

impl DateTime {
    /// Validates and builds a date-time; `offset_minutes` is the zone's offset east of UTC
    /// (`+0200` is 120), at most 99 hours 59 minutes either way.
    pub fn new(
        date: Date,
        hour: u8,
        minute: u8,
        second: u8,
        offset_minutes: i16,
    ) -> Result<Self, ValidationError> {
        // Leap seconds (60) are allowed.
        if hour > 23 || minute > 59 || second > 60 || offset_minutes.unsigned_abs() > 99 * 60 + 59 {
            return Err(ValidationError::Invalid {
                what: "date-time",
                reason: "field out of range",
            });
        }
        Ok(Self {
            date,
            hour,
            minute,
            second,
            offset_minutes,
        })
    }
    /// The date.
    pub fn date(&self) -> Date {
        self.date
    }
    /// Hour, minute and second.
    pub fn time(&self) -> (u8, u8, u8) {
        (self.hour, self.minute, self.second)
    }
    /// The zone's offset east of UTC in minutes.
    pub fn offset_minutes(&self) -> i16 {
        self.offset_minutes
    }
    /// Seconds since the Unix epoch (UTC).
    pub fn unix_timestamp(&self) -> i64 {
        let d = &self.date;
        let (y, m) = (i64::from(d.year), i64::from(d.month));
        // Days from civil (Howard Hinnant's algorithm).
        let y = if m <= 2 { y - 1 } else { y };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let mp = (m + 9) % 12;
        let doy = (153 * mp + 2) / 5 + i64::from(d.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        let days = era * 146_097 + doe - 719_468;
        days * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second)
            - i64::from(self.offset_minutes) * 60
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn timestamp() {
        let dt = DateTime::new(Date::new(1996, 7, 17).unwrap(), 2, 44, 25, -7 * 60).unwrap();
        assert_eq!(dt.unix_timestamp(), 837_596_665);
        assert!(Date::new(2020, 13, 1).is_err());
    }
}
