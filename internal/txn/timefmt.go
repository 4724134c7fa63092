package txn

import "time"

// AppendDatetime appends t in UTC in DatetimeLayout, as t.UTC().AppendFormat(b, DatetimeLayout)
// does, without the layout's parse on every call.
func AppendDatetime(b []byte, t time.Time) []byte {
	t = t.UTC()
	if y := t.Year(); y < 0 || y > 9999 {
		return t.AppendFormat(b, DatetimeLayout)
	}
	return appendDateClock(b, t)
}

// appendDateClock appends t's date and time of day, YYYY-MM-DD hh:mm:ss, for a year of 0..9999.
func appendDateClock(b []byte, t time.Time) []byte {
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	return append(b,
		byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-',
		byte('0'+int(mo)/10), byte('0'+int(mo)%10), '-', byte('0'+d/10), byte('0'+d%10), ' ',
		byte('0'+h/10), byte('0'+h%10), ':', byte('0'+mi/10), byte('0'+mi%10), ':',
		byte('0'+s/10), byte('0'+s%10))
}
