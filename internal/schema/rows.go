package schema

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/devapi-dev/devapi"
)

// The encodings the migrations' columns use, shared by every store: times
// are microseconds since the Unix epoch (UTC), booleans 0 or 1, read regions
// and allowed IPs a JSON array of strings (List).

// Micros encodes t for a time column: microseconds since the Unix epoch,
// truncated, the precision PostgreSQL keeps too. An int64 of them reaches
// some 292,000 years either side of 1970, so the zero time.Time (year 1)
// round-trips; nanoseconds would overflow outside 1678-2262.
func Micros(t time.Time) int64 { return t.UnixMicro() }

// FromMicros decodes a time column.
func FromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// Bool encodes b for a boolean column.
func Bool(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// DatabaseColumns are the columns of the databases table ScanDatabase reads,
// in its order.
const DatabaseColumns = `id, owner, name, platform, primary_region, read_regions, plan, budget,
	tls, eviction, auto_upgrade, prod_pack, state, endpoint, port, created_at,
	password, rest_token, read_only_rest_token, generation, daily_backup, allowed_ips`

// List encodes a list of strings for a JSON array column (read_regions,
// allowed_ips); nil is stored as the empty list.
func List(l []string) string {
	if len(l) == 0 {
		return "[]"
	}
	b, err := json.Marshal(l)
	if err != nil { // a []string always marshals
		panic(err)
	}
	return string(b)
}

// readList decodes a JSON array column; the empty list is an empty, non-nil
// slice.
func readList(s string) ([]string, error) {
	if s == "[]" { // most databases: skip the JSON decoder
		return []string{}, nil
	}
	var l []string
	if err := json.Unmarshal([]byte(s), &l); err != nil {
		return nil, err
	}
	if l == nil {
		l = []string{}
	}
	return l, nil
}

// Scanner is a row of database/sql or pgx.
type Scanner interface {
	Scan(dest ...any) error
}

// ScanDatabase reads a row of DatabaseColumns. The row's own error (no rows,
// say) is returned as is.
func ScanDatabase(row Scanner) (*devapi.Database, error) {
	var (
		d                                  devapi.Database
		readRegions, allowedIPs            string
		tls, eviction, autoUpgrade, prodPk int64
		created, daily                     int64
	)
	err := row.Scan(&d.ID, &d.Owner, &d.Name, &d.Platform, &d.PrimaryRegion, &readRegions, &d.Plan, &d.Budget,
		&tls, &eviction, &autoUpgrade, &prodPk, &d.State, &d.Endpoint, &d.Port, &created,
		&d.Password, &d.RestToken, &d.ReadOnlyRestToken, &d.Generation, &daily, &allowedIPs)
	if err != nil {
		return nil, err
	}
	if d.ReadRegions, err = readList(readRegions); err != nil {
		return nil, fmt.Errorf("database %s: read_regions: %w", d.ID, err)
	}
	if d.AllowedIPs, err = readList(allowedIPs); err != nil {
		return nil, fmt.Errorf("database %s: allowed_ips: %w", d.ID, err)
	}
	d.TLS, d.Eviction, d.AutoUpgrade, d.ProdPack = tls != 0, eviction != 0, autoUpgrade != 0, prodPk != 0
	d.CreatedAt, d.DailyBackup = FromMicros(created), daily != 0
	return &d, nil
}

// ParseList decodes a JSON array column (read_regions, allowed_ips) as
// ScanDatabase does: the empty list is an empty, non-nil slice. An array of
// plain ASCII strings, what List writes for region names and CIDRs, is read
// without the JSON decoder, its elements sharing s's memory; anything else
// goes through encoding/json, so the result is the same either way.
func ParseList(s string) ([]string, error) {
	if l, ok := parsePlainList(s); ok {
		return l, nil
	}
	return readList(s)
}

// parsePlainList reads s if it is exactly a JSON array of strings of
// printable ASCII without escapes and without spaces between the elements
// (the form json.Marshal writes); ok is false for anything else.
func parsePlainList(s string) (l []string, ok bool) {
	if s == "[]" {
		return []string{}, true
	}
	if len(s) < 4 || s[0] != '[' || s[len(s)-1] != ']' {
		return nil, false
	}
	n := 1
	for i := 1; i < len(s)-1; i++ {
		if s[i] == ',' {
			n++ // an upper bound: a comma may sit inside an element
		}
	}
	l = make([]string, 0, n)
	for i := 1; ; {
		if s[i] != '"' {
			return nil, false
		}
		j := i + 1
		for ; j < len(s) && s[j] != '"'; j++ {
			if c := s[j]; c < 0x20 || c > 0x7e || c == '\\' {
				return nil, false
			}
		}
		if j+1 >= len(s) {
			return nil, false
		}
		l = append(l, s[i+1:j])
		switch {
		case s[j+1] == ']' && j+2 == len(s):
			return l, true
		case s[j+1] == ',':
			i = j + 2
		default:
			return nil, false
		}
		if i >= len(s) {
			return nil, false
		}
	}
}
