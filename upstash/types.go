package upstash

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/devapi-dev/devapi/gen"
)

// Database is a Redis database. It marshals to JSON as the API answers it,
// with CreatedAt as "creation_time" in Unix seconds.
type Database struct {
	ID            string   `json:"database_id"`
	Name          string   `json:"database_name"`
	Type          string   `json:"type"`          // payment plan: free, payg, pro, paid, ...
	DatabaseType  string   `json:"database_type"` // pricing label: Free, Pay as You Go, ...
	Region        string   `json:"region"`        // "global", or a legacy regional database's region
	PrimaryRegion string   `json:"primary_region"`
	ReadRegions   []string `json:"read_regions"`
	// Port is the TCP port to dial at Endpoint.
	Port int `json:"port"`
	// CreatedAt is the creation time, to the second ("creation_time").
	CreatedAt time.Time `json:"-"`
	State     string    `json:"state"` // active, suspended, passive, deleted, ...
	// Endpoint is the host to dial, without scheme or port.
	Endpoint           string `json:"endpoint"`
	TLS                bool   `json:"tls"`
	Eviction           bool   `json:"eviction"`
	AutoUpgrade        bool   `json:"auto_upgrade"`
	ProdPackEnabled    bool   `json:"prod_pack_enabled"`
	Budget             int64  `json:"budget"` // monthly, in dollars
	DailyBackupEnabled bool   `json:"daily_backup_enabled"`
	// Password, RestToken and ReadOnlyRestToken are empty when the
	// credentials were hidden (GetDatabase with hideCredentials).
	Password          string `json:"password,omitempty"`
	RestToken         string `json:"rest_token,omitempty"`
	ReadOnlyRestToken string `json:"read_only_rest_token,omitempty"`
	// UserEmail is the owner: an account's email, or a team's id.
	UserEmail string `json:"user_email,omitempty"`
	// Limits of the plan.
	DBMemoryThreshold      int64   `json:"db_memory_threshold"` // bytes
	DBDiskThreshold        int64   `json:"db_disk_threshold"`   // bytes
	DBMaxClients           int64   `json:"db_max_clients"`
	DBMaxRequestSize       int64   `json:"db_max_request_size"`      // bytes
	DBMaxEntrySize         int64   `json:"db_max_entry_size"`        // bytes
	DBDailyBandwidthLimit  int64   `json:"db_daily_bandwidth_limit"` // bytes
	DBMaxCommandsPerSecond int64   `json:"db_max_commands_per_second"`
	DBRequestLimit         float64 `json:"db_request_limit"` // total commands; may exceed int64
}

// databaseFields is Database without its methods, for its JSON methods.
type databaseFields Database

// MarshalJSON encodes d as the API does.
func (d Database) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		databaseFields
		CreationTime int64 `json:"creation_time"`
	}{databaseFields(d), unixSeconds(d.CreatedAt)})
}

// UnmarshalJSON decodes a database as the API answers it.
func (d *Database) UnmarshalJSON(b []byte) error {
	v := struct {
		*databaseFields
		CreationTime int64 `json:"creation_time"`
	}{databaseFields: (*databaseFields)(d)}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	d.CreatedAt = fromUnix(v.CreationTime)
	return nil
}

// Backup is a backup of a database. It marshals to JSON as the API answers
// it: CreationTime in Unix seconds, Daily as the string "true" or "false".
type Backup struct {
	BackupID   string `json:"backup_id"`
	DatabaseID string `json:"database_id"`
	Name       string `json:"name"`
	// CreationTime is when the backup was taken, to the second.
	CreationTime time.Time `json:"-"`
	State        string    `json:"state"`       // pending, completed, failed, ...
	Size         int64     `json:"backup_size"` // bytes
	// Daily reports whether the daily backup took it ("daily_backup").
	Daily bool `json:"-"`
}

type backupFields Backup

// MarshalJSON encodes b as the API does.
func (b Backup) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		backupFields
		CreationTime int64  `json:"creation_time"`
		Daily        string `json:"daily_backup"`
	}{backupFields(b), unixSeconds(b.CreationTime), fmt.Sprint(b.Daily)})
}

// UnmarshalJSON decodes a backup as the API answers it. daily_backup may be
// the string "true"/"false" (as Upstash sends it) or a JSON boolean.
func (b *Backup) UnmarshalJSON(data []byte) error {
	v := struct {
		*backupFields
		CreationTime int64           `json:"creation_time"`
		Daily        json.RawMessage `json:"daily_backup"`
	}{backupFields: (*backupFields)(b)}
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	b.CreationTime = fromUnix(v.CreationTime)
	b.Daily = false
	if len(v.Daily) > 0 {
		var s string
		if json.Unmarshal(v.Daily, &s) == nil {
			b.Daily = strings.EqualFold(strings.TrimSpace(s), "true")
		} else if err := json.Unmarshal(v.Daily, &b.Daily); err != nil {
			return fmt.Errorf("upstash: daily_backup: %w", err)
		}
	}
	return nil
}

// Team is a team the account belongs to.
type Team struct {
	ID     string `json:"team_id"`
	Name   string `json:"team_name"`
	CopyCC bool   `json:"copy_cc"` // the creator's credit card was copied to the team
	// Role is the account's role in the team: owner, admin, dev, finance.
	Role string `json:"member_role,omitempty"`
}

// TeamMember is an account's membership of a team.
type TeamMember struct {
	TeamID   string `json:"team_id"`
	TeamName string `json:"team_name"`
	Email    string `json:"member_email"`
	Role     string `json:"member_role"` // owner, admin, dev, finance
}

// Stats are a database's usage figures over a period.
type Stats struct {
	ConnectionCount []Point `json:"connection_count"` // open connections at each sample
	Keyspace        []Point `json:"keyspace"`         // keys at each sample
	Throughput      []Point `json:"throughput"`       // commands per second between samples
	DailyCommands   int64   `json:"daily_net_commands"`
	TotalCommands   int64   `json:"total_monthly_requests"`
}

// Point is one sample of a time series. It marshals to JSON as the API's
// {"x": "2025-08-31 15:12:52.799480932 +0000 UTC", "y": 3}.
type Point struct {
	Time  time.Time
	Value float64
}

// pointTimeLayout is how the API writes a sample's time: Go's
// time.Time.String without the monotonic clock reading.
const pointTimeLayout = "2006-01-02 15:04:05.999999999 -0700 MST"

// MarshalJSON encodes p as the API does.
func (p Point) MarshalJSON() ([]byte, error) {
	return json.Marshal(gen.TimeSeriesData{X: p.Time.Format(pointTimeLayout), Y: p.Value})
}

// UnmarshalJSON decodes a sample as the API answers it.
func (p *Point) UnmarshalJSON(b []byte) error {
	var v gen.TimeSeriesData
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	pt, err := fromGenPoint(v)
	if err != nil {
		return fmt.Errorf("upstash: %w", err)
	}
	*p = pt
	return nil
}

// parsePointTime reads a sample time: Go's time.Time.String format (a
// monotonic clock reading " m=..." is dropped), or RFC 3339.
func parsePointTime(s string) (time.Time, error) {
	s, _, _ = strings.Cut(s, " m=")
	t, err := time.Parse(pointTimeLayout, s)
	if err == nil {
		return t, nil
	}
	if t, err2 := time.Parse(time.RFC3339Nano, s); err2 == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("sample time %q: %w", s, err)
}

// CreateDatabaseRequest describes a database to create. Name and
// PrimaryRegion are required; the zero value of the other fields means the
// API's default.
type CreateDatabaseRequest struct {
	Name string `json:"database_name"`
	// Platform is aws (the default) or gcp.
	Platform string `json:"platform,omitempty"`
	// PrimaryRegion is a region of the platform, such as us-east-1.
	PrimaryRegion string `json:"primary_region"`
	// ReadRegions are regions of the platform that serve reads.
	ReadRegions []string `json:"read_regions,omitempty"`
	// Plan is free, payg (the default), fixed_250mb, fixed_1gb, ...
	Plan string `json:"plan,omitempty"`
	// Budget is the monthly budget in dollars; nil means the API's default.
	Budget   *int64 `json:"budget,omitempty"`
	Eviction bool   `json:"eviction,omitempty"`
	// TLS: nil means true, as on Upstash.
	TLS *bool `json:"tls,omitempty"`
}

// unixSeconds is t in Unix seconds; 0 for the zero time.
func unixSeconds(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

// fromUnix is the UTC time of Unix seconds; the zero time for 0.
func fromUnix(secs int64) time.Time {
	if secs == 0 {
		return time.Time{}
	}
	return time.Unix(secs, 0).UTC()
}

func fromGenDatabase(g gen.Database) Database {
	return Database{
		ID:                     g.DatabaseId,
		Name:                   g.DatabaseName,
		Type:                   deref(g.Type),
		DatabaseType:           deref(g.DatabaseType),
		Region:                 g.Region,
		PrimaryRegion:          deref(g.PrimaryRegion),
		ReadRegions:            deref(g.ReadRegions),
		Port:                   int(g.Port),
		CreatedAt:              fromUnix(g.CreationTime),
		State:                  g.State,
		Endpoint:               g.Endpoint,
		TLS:                    g.Tls,
		Eviction:               deref(g.Eviction),
		AutoUpgrade:            deref(g.AutoUpgrade),
		ProdPackEnabled:        deref(g.ProdPackEnabled),
		Budget:                 deref(g.Budget),
		DailyBackupEnabled:     deref(g.DailyBackupEnabled),
		Password:               deref(g.Password),
		RestToken:              deref(g.RestToken),
		ReadOnlyRestToken:      deref(g.ReadOnlyRestToken),
		UserEmail:              deref(g.UserEmail),
		DBMemoryThreshold:      deref(g.DbMemoryThreshold),
		DBDiskThreshold:        deref(g.DbDiskThreshold),
		DBMaxClients:           deref(g.DbMaxClients),
		DBMaxRequestSize:       deref(g.DbMaxRequestSize),
		DBMaxEntrySize:         deref(g.DbMaxEntrySize),
		DBDailyBandwidthLimit:  deref(g.DbDailyBandwidthLimit),
		DBMaxCommandsPerSecond: deref(g.DbMaxCommandsPerSecond),
		DBRequestLimit:         deref(g.DbRequestLimit),
	}
}

// fromGenDatabaseWithCredentials converts reset-password's answer. The
// generated type repeats Database's fields with the credentials required,
// so it goes through their common JSON.
func fromGenDatabaseWithCredentials(g gen.DatabaseWithCredentials) (Database, error) {
	b, err := json.Marshal(g)
	if err != nil {
		return Database{}, err
	}
	var d gen.Database
	if err := json.Unmarshal(b, &d); err != nil {
		return Database{}, err
	}
	return fromGenDatabase(d), nil
}

func fromGenBackup(g gen.Backup) Backup {
	return Backup{
		BackupID:     g.BackupId,
		DatabaseID:   g.DatabaseId,
		Name:         g.Name,
		CreationTime: fromUnix(g.CreationTime),
		State:        g.State,
		Size:         deref(g.BackupSize),
		Daily:        strings.EqualFold(strings.TrimSpace(deref(g.DailyBackup)), "true"),
	}
}

func fromGenTeam(g gen.Team) Team {
	return Team{ID: g.TeamId, Name: g.TeamName, CopyCC: g.CopyCc, Role: deref(g.MemberRole)}
}

func fromGenTeamMember(g gen.TeamMember) TeamMember {
	return TeamMember{TeamID: g.TeamId, TeamName: g.TeamName, Email: g.MemberEmail, Role: g.MemberRole}
}

func fromGenPoint(g gen.TimeSeriesData) (Point, error) {
	t, err := parsePointTime(g.X)
	if err != nil {
		return Point{}, err
	}
	return Point{Time: t, Value: g.Y}, nil
}

func fromGenPoints(in *[]gen.TimeSeriesData) ([]Point, error) {
	if in == nil {
		return nil, nil
	}
	out := make([]Point, 0, len(*in))
	for _, g := range *in {
		p, err := fromGenPoint(g)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

func fromGenStats(g gen.DatabaseStats) (Stats, error) {
	var (
		s   Stats
		err error
	)
	if s.ConnectionCount, err = fromGenPoints(g.ConnectionCount); err != nil {
		return Stats{}, err
	}
	if s.Keyspace, err = fromGenPoints(g.Keyspace); err != nil {
		return Stats{}, err
	}
	if s.Throughput, err = fromGenPoints(g.Throughput); err != nil {
		return Stats{}, err
	}
	s.DailyCommands = deref(g.DailyNetCommands)
	s.TotalCommands = deref(g.TotalMonthlyRequests)
	return s, nil
}
