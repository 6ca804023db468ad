package upstash_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/devapi-dev/devapi/devapitest"
	"github.com/devapi-dev/devapi/internal/portclaim"
	"github.com/devapi-dev/devapi/upstash"
)

// The tests in this file run against a real devapi (devapitest), not mocks.

func ptr[T any](v T) *T { return &v }

func create(t *testing.T, c *upstash.Client, req upstash.CreateDatabaseRequest) *upstash.Database {
	t.Helper()
	if req.PrimaryRegion == "" {
		req.PrimaryRegion = "us-east-1"
	}
	db, err := c.CreateDatabase(t.Context(), req)
	if err != nil {
		t.Fatalf("CreateDatabase: %v", err)
	}
	return db
}

// connect returns a go-redis client for db, with the given password.
func connect(t *testing.T, s *devapitest.Server, db *upstash.Database, password string) *redis.Client {
	t.Helper()
	opt := &redis.Options{
		Addr:       net.JoinHostPort(db.Endpoint, strconv.Itoa(db.Port)),
		Password:   password,
		MaxRetries: -1,
	}
	if db.TLS {
		opt.TLSConfig = &tls.Config{RootCAs: s.CAPool, ServerName: db.Endpoint, MinVersion: tls.VersionTLS12}
	}
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// wantErr fails t unless err matches every target and none of notTargets.
func wantErr(t *testing.T, err error, targets []error, notTargets ...error) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %v", targets)
	}
	for _, target := range targets {
		if !errors.Is(err, target) {
			t.Errorf("errors.Is(%v, %v) = false, want true", err, target)
		}
	}
	for _, target := range notTargets {
		if errors.Is(err, target) {
			t.Errorf("errors.Is(%v, %v) = true, want false", err, target)
		}
	}
}

func TestDatabaseLifecycle(t *testing.T) {
	t.Parallel()
	s := devapitest.NewServer(t)
	c, ctx := s.Client, t.Context()

	before := time.Now().Add(-time.Second)
	db := create(t, c, upstash.CreateDatabaseRequest{
		Name: "orders", Platform: "aws", PrimaryRegion: "us-east-1", ReadRegions: []string{"us-west-1"},
		Plan: "payg", Budget: ptr[int64](50), Eviction: true,
	})
	switch {
	case db.ID == "" || db.Name != "orders" || db.State != "active" || db.Region != "global":
		t.Errorf("created %+v", db)
	case db.PrimaryRegion != "us-east-1" || !slices.Equal(db.ReadRegions, []string{"us-west-1"}):
		t.Errorf("regions: primary %q, read %q", db.PrimaryRegion, db.ReadRegions)
	case !db.TLS || !db.Eviction || db.AutoUpgrade || db.Budget != 50 || db.Type != "payg":
		t.Errorf("settings: %+v", db)
	case db.Password == "" || db.RestToken == "" || db.ReadOnlyRestToken == "":
		t.Errorf("credentials missing: %+v", db)
	case db.Endpoint != "127.0.0.1" || db.Port < portclaim.Min || db.Port > portclaim.Max:
		t.Errorf("endpoint %s:%d, want 127.0.0.1 and a port of devapitest's %d-%d", db.Endpoint, db.Port, portclaim.Min, portclaim.Max)
	case db.CreatedAt.Before(before) || db.CreatedAt.After(time.Now().Add(time.Second)):
		t.Errorf("CreatedAt %v, want about now", db.CreatedAt)
	case db.UserEmail != s.Email:
		t.Errorf("UserEmail %q, want %q", db.UserEmail, s.Email)
	case db.DBMaxClients == 0 || db.DBMemoryThreshold == 0 || db.DBRequestLimit == 0:
		t.Errorf("limits missing: %+v", db)
	}

	list, err := c.ListDatabases(ctx)
	if err != nil || len(list) != 1 || list[0].ID != db.ID || list[0].Password != db.Password {
		t.Fatalf("ListDatabases = %+v, %v; want the one database", list, err)
	}
	got, err := c.GetDatabase(ctx, db.ID, false)
	if err != nil || !reflect.DeepEqual(got, db) {
		t.Fatalf("GetDatabase = %+v, %v\nwant %+v", got, err, db)
	}
	hidden, err := c.GetDatabase(ctx, db.ID, true)
	if err != nil || hidden.Password != "" || hidden.RestToken != "" || hidden.ReadOnlyRestToken != "" || hidden.Name != "orders" {
		t.Fatalf("GetDatabase hiding credentials = %+v, %v", hidden, err)
	}

	renamed, err := c.RenameDatabase(ctx, db.ID, "orders-v2")
	if err != nil || renamed.Name != "orders-v2" || renamed.ID != db.ID {
		t.Fatalf("RenameDatabase = %+v, %v", renamed, err)
	}

	reset, err := c.ResetPassword(ctx, db.ID)
	if err != nil {
		t.Fatalf("ResetPassword: %v", err)
	}
	if reset.Password == "" || reset.Password == db.Password || reset.RestToken == db.RestToken || reset.ReadOnlyRestToken == db.ReadOnlyRestToken {
		t.Fatalf("ResetPassword gave %+v, want new credentials", reset)
	}
	if got, err := c.GetDatabase(ctx, db.ID, false); err != nil || got.Password != reset.Password {
		t.Fatalf("GetDatabase after reset: password %q, %v; want %q", got.Password, err, reset.Password)
	}

	// Toggles: created with eviction on, auto-upgrade off.
	wantErr(t, c.EnableEviction(ctx, db.ID), []error{upstash.ErrAlreadyEnabled, upstash.ErrBadRequest}, upstash.ErrAlreadyDisabled, upstash.ErrNotFound)
	if err := c.DisableEviction(ctx, db.ID); err != nil {
		t.Fatalf("DisableEviction: %v", err)
	}
	wantErr(t, c.DisableEviction(ctx, db.ID), []error{upstash.ErrAlreadyDisabled, upstash.ErrBadRequest}, upstash.ErrAlreadyEnabled)
	if err := c.EnableEviction(ctx, db.ID); err != nil {
		t.Fatalf("EnableEviction: %v", err)
	}
	if err := c.EnableAutoUpgrade(ctx, db.ID); err != nil {
		t.Fatalf("EnableAutoUpgrade: %v", err)
	}
	wantErr(t, c.EnableAutoUpgrade(ctx, db.ID), []error{upstash.ErrAlreadyEnabled})
	if err := c.DisableAutoUpgrade(ctx, db.ID); err != nil {
		t.Fatalf("DisableAutoUpgrade: %v", err)
	}
	wantErr(t, c.DisableAutoUpgrade(ctx, db.ID), []error{upstash.ErrAlreadyDisabled})

	if err := c.ChangePlan(ctx, db.ID, "fixed_250mb"); err != nil {
		t.Fatalf("ChangePlan: %v", err)
	}
	if err := c.UpdateBudget(ctx, db.ID, 120); err != nil {
		t.Fatalf("UpdateBudget: %v", err)
	}
	if err := c.UpdateRegions(ctx, db.ID, []string{"eu-west-1", "ap-south-1"}); err != nil {
		t.Fatalf("UpdateRegions: %v", err)
	}
	got, err = c.GetDatabase(ctx, db.ID, true)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Eviction || got.AutoUpgrade || got.Budget != 120 || got.DBMemoryThreshold == db.DBMemoryThreshold {
		t.Errorf("after the changes: %+v", got)
	}
	if want := []string{"eu-west-1", "ap-south-1"}; !slices.Equal(slices.Sorted(slices.Values(got.ReadRegions)), slices.Sorted(slices.Values(want))) {
		t.Errorf("ReadRegions %q, want %q", got.ReadRegions, want)
	}
	wantErr(t, c.ChangePlan(ctx, db.ID, "gigantic"), []error{upstash.ErrBadRequest})

	// TLS: on by default; a plain database can be moved to TLS once.
	_, err = c.EnableTLS(ctx, db.ID)
	wantErr(t, err, []error{upstash.ErrAlreadyEnabled})
	plain := create(t, c, upstash.CreateDatabaseRequest{Name: "plain", TLS: ptr(false)})
	if plain.TLS {
		t.Fatalf("created with TLS false: %+v", plain)
	}
	tlsDB, err := c.EnableTLS(ctx, plain.ID)
	if err != nil || !tlsDB.TLS || tlsDB.Port != plain.Port {
		t.Fatalf("EnableTLS = %+v, %v", tlsDB, err)
	}
	if err := connect(t, s, tlsDB, tlsDB.Password).Ping(ctx).Err(); err != nil {
		t.Fatalf("PING over TLS after EnableTLS: %v", err)
	}

	for _, period := range []string{"", "1h", "7d"} {
		st, err := c.Stats(ctx, db.ID, period)
		if err != nil || st == nil {
			t.Fatalf("Stats(%q) = %v, %v", period, st, err)
		}
	}
	_, err = c.Stats(ctx, db.ID, "2w")
	wantErr(t, err, []error{upstash.ErrBadRequest})

	for _, id := range []string{db.ID, plain.ID} {
		if err := c.DeleteDatabase(ctx, id); err != nil {
			t.Fatalf("DeleteDatabase: %v", err)
		}
	}
	_, err = c.GetDatabase(ctx, db.ID, false)
	wantErr(t, err, []error{upstash.ErrNotFound})
	wantErr(t, c.DeleteDatabase(ctx, db.ID), []error{upstash.ErrNotFound})
	if list, err := c.ListDatabases(ctx); err != nil || len(list) != 0 {
		t.Fatalf("ListDatabases after delete = %+v, %v", list, err)
	}
}

func TestBackups(t *testing.T) {
	t.Parallel()
	s := devapitest.NewServer(t)
	c, ctx := s.Client, t.Context()
	db := create(t, c, upstash.CreateDatabaseRequest{Name: "cache"})
	rdb := connect(t, s, db, db.Password)
	if err := rdb.Set(ctx, "k", "v1", 0).Err(); err != nil {
		t.Fatal(err)
	}

	if err := c.CreateBackup(ctx, db.ID, "before"); err != nil {
		t.Fatalf("CreateBackup: %v", err)
	}
	backups, err := c.ListBackups(ctx, db.ID)
	if err != nil || len(backups) != 1 {
		t.Fatalf("ListBackups = %+v, %v", backups, err)
	}
	b := backups[0]
	if b.BackupID == "" || b.DatabaseID != db.ID || b.Name != "before" || b.State != "completed" || b.Size <= 0 || b.Daily ||
		time.Since(b.CreationTime) > time.Minute {
		t.Errorf("backup %+v", b)
	}

	if err := rdb.Set(ctx, "k", "v2", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.RestoreBackup(ctx, db.ID, b.BackupID); err != nil {
		t.Fatalf("RestoreBackup: %v", err)
	}
	if v, err := rdb.Get(ctx, "k").Result(); err != nil || v != "v1" {
		t.Fatalf("GET k after restore = %q, %v; want v1", v, err)
	}
	wantErr(t, c.RestoreBackup(ctx, db.ID, "no-such-backup"), []error{upstash.ErrNotFound})

	if err := c.EnableDailyBackup(ctx, db.ID); err != nil {
		t.Fatalf("EnableDailyBackup: %v", err)
	}
	wantErr(t, c.EnableDailyBackup(ctx, db.ID), []error{upstash.ErrAlreadyEnabled})
	if got, err := c.GetDatabase(ctx, db.ID, true); err != nil || !got.DailyBackupEnabled {
		t.Fatalf("DailyBackupEnabled after enabling: %+v, %v", got, err)
	}
	if err := c.DisableDailyBackup(ctx, db.ID); err != nil {
		t.Fatalf("DisableDailyBackup: %v", err)
	}
	wantErr(t, c.DisableDailyBackup(ctx, db.ID), []error{upstash.ErrAlreadyDisabled})

	if err := c.DeleteBackup(ctx, db.ID, b.BackupID); err != nil {
		t.Fatalf("DeleteBackup: %v", err)
	}
	wantErr(t, c.DeleteBackup(ctx, db.ID, b.BackupID), []error{upstash.ErrNotFound})
	if backups, err := c.ListBackups(ctx, db.ID); err != nil || len(backups) != 0 {
		t.Fatalf("ListBackups after delete = %+v, %v", backups, err)
	}
	_, err = c.ListBackups(ctx, "no-such-database")
	wantErr(t, err, []error{upstash.ErrNotFound})
}

func TestTeams(t *testing.T) {
	t.Parallel()
	s := devapitest.NewServer(t)
	c, ctx := s.Client, t.Context()
	other, _, err := s.NewAccount(ctx)
	if err != nil {
		t.Fatal(err)
	}

	team, err := c.CreateTeam(ctx, "ops", true)
	if err != nil || team.ID == "" || team.Name != "ops" || !team.CopyCC || team.Role != "owner" {
		t.Fatalf("CreateTeam = %+v, %v", team, err)
	}
	teams, err := c.ListTeams(ctx)
	if err != nil || len(teams) != 1 || teams[0] != *team {
		t.Fatalf("ListTeams = %+v, %v; want [%+v]", teams, err, *team)
	}

	m, err := c.AddTeamMember(ctx, team.ID, other, "dev")
	if err != nil || *m != (upstash.TeamMember{TeamID: team.ID, TeamName: "ops", Email: other, Role: "dev"}) {
		t.Fatalf("AddTeamMember = %+v, %v", m, err)
	}
	_, err = c.AddTeamMember(ctx, team.ID, "nobody@example.com", "dev")
	wantErr(t, err, []error{upstash.ErrBadRequest})
	members, err := c.TeamMembers(ctx, team.ID)
	if err != nil || len(members) != 2 {
		t.Fatalf("TeamMembers = %+v, %v", members, err)
	}
	roles := map[string]string{}
	for _, m := range members {
		roles[m.Email] = m.Role
	}
	if roles[s.Email] != "owner" || roles[other] != "dev" {
		t.Errorf("roles %v", roles)
	}
	if err := c.RemoveTeamMember(ctx, team.ID, other); err != nil {
		t.Fatalf("RemoveTeamMember: %v", err)
	}
	wantErr(t, c.RemoveTeamMember(ctx, team.ID, other), []error{upstash.ErrBadRequest})
	if members, err := c.TeamMembers(ctx, team.ID); err != nil || len(members) != 1 {
		t.Fatalf("TeamMembers after remove = %+v, %v", members, err)
	}

	db := create(t, c, upstash.CreateDatabaseRequest{Name: "shared"})
	if err := c.MoveToTeam(ctx, db.ID, team.ID); err != nil {
		t.Fatalf("MoveToTeam: %v", err)
	}
	if list, err := c.ListDatabases(ctx); err != nil || len(list) != 0 {
		t.Fatalf("ListDatabases after moving the only database to a team = %+v, %v", list, err)
	}
	wantErr(t, c.MoveToTeam(ctx, db.ID, team.ID), []error{upstash.ErrNotFound})
	// The team owns a database now, so it cannot go.
	wantErr(t, c.DeleteTeam(ctx, team.ID), []error{upstash.ErrBadRequest})

	empty, err := c.CreateTeam(ctx, "empty", false)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteTeam(ctx, empty.ID); err != nil {
		t.Fatalf("DeleteTeam: %v", err)
	}
	wantErr(t, c.DeleteTeam(ctx, empty.ID), []error{upstash.ErrNotFound})
	_, err = c.TeamMembers(ctx, empty.ID)
	wantErr(t, err, []error{upstash.ErrNotFound})
}

func TestErrors(t *testing.T) {
	t.Parallel()
	s := devapitest.NewServer(t)
	ctx := t.Context()

	t.Run("unknown id", func(t *testing.T) {
		_, err := s.Client.GetDatabase(ctx, "00000000-0000-0000-0000-000000000000", false)
		wantErr(t, err, []error{upstash.ErrNotFound}, upstash.ErrUnauthorized, upstash.ErrBadRequest, upstash.ErrServer)
		var apiErr *upstash.APIError
		if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusNotFound || apiErr.Message != "database not found" {
			t.Fatalf("errors.As: %#v", apiErr)
		}
		if want := "upstash: get database: 404 not found: database not found"; err.Error() != want {
			t.Errorf("Error() = %q, want %q", err, want)
		}
	})
	t.Run("wrong key", func(t *testing.T) {
		c, err := upstash.New(s.Email, "wrong-key", upstash.WithBaseURL(s.URL))
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.ListDatabases(ctx)
		wantErr(t, err, []error{upstash.ErrUnauthorized}, upstash.ErrNotFound)
		var apiErr *upstash.APIError
		if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusUnauthorized || apiErr.Message != "Unauthorized" {
			t.Fatalf("errors.As: %#v", apiErr)
		}
	})
	t.Run("double enable", func(t *testing.T) {
		db := create(t, s.Client, upstash.CreateDatabaseRequest{Name: "toggles"})
		if err := s.Client.EnableEviction(ctx, db.ID); err != nil {
			t.Fatal(err)
		}
		err := s.Client.EnableEviction(ctx, db.ID)
		wantErr(t, err, []error{upstash.ErrAlreadyEnabled, upstash.ErrBadRequest}, upstash.ErrAlreadyDisabled)
		var apiErr *upstash.APIError
		if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusBadRequest || !strings.Contains(apiErr.Message, "already enabled") {
			t.Fatalf("errors.As: %#v", apiErr)
		}
	})
	t.Run("bad request", func(t *testing.T) {
		_, err := s.Client.CreateDatabase(ctx, upstash.CreateDatabaseRequest{Name: "x"}) // no primary region
		wantErr(t, err, []error{upstash.ErrBadRequest}, upstash.ErrAlreadyEnabled)
	})
	t.Run("network error", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		_ = ln.Close() // nothing listens there now
		c, err := upstash.New("a@example.com", "key", upstash.WithBaseURL("http://"+addr), upstash.WithRetries(0))
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.ListDatabases(ctx)
		var apiErr *upstash.APIError
		if err == nil || errors.As(err, &apiErr) {
			t.Fatalf("got %v, want a network error that is not an *APIError", err)
		}
		var opErr *net.OpError
		if !errors.As(err, &opErr) {
			t.Errorf("%v does not wrap the *net.OpError", err)
		}
	})
}

func TestNewOptions(t *testing.T) {
	t.Parallel()
	s := devapitest.NewServer(t)
	for _, root := range []string{s.URL, s.URL + "/", s.URL + "/v2", s.URL + "/v2/"} {
		c, err := upstash.New(s.Email, s.APIKey, upstash.WithBaseURL(root))
		if err != nil {
			t.Fatalf("New with base %q: %v", root, err)
		}
		if _, err := c.ListDatabases(t.Context()); err != nil {
			t.Errorf("base %q: ListDatabases: %v", root, err)
		}
	}
	for _, bad := range []string{"127.0.0.1:8080", "ftp://example.com", "http://", "http://h/?q=1", "://x"} {
		if _, err := upstash.New(s.Email, s.APIKey, upstash.WithBaseURL(bad)); err == nil {
			t.Errorf("New with base %q: no error", bad)
		}
	}
	if _, err := upstash.New("", "key"); err == nil {
		t.Error("New without email: no error")
	}
}

// headerRecorder is a transport that remembers the User-Agent of every
// request it sends.
type headerRecorder struct {
	mu     sync.Mutex
	agents []string
}

func (h *headerRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	h.mu.Lock()
	h.agents = append(h.agents, req.Header.Get("User-Agent"))
	h.mu.Unlock()
	return http.DefaultTransport.RoundTrip(req)
}

func TestUserAgent(t *testing.T) {
	t.Parallel()
	s := devapitest.NewServer(t)
	for _, tc := range []struct {
		name   string
		opts   []upstash.Option
		prefix string
	}{
		{"default", nil, "devapi-go/"},
		{"custom", []upstash.Option{upstash.WithUserAgent("my-tool/1.2")}, "my-tool/1.2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &headerRecorder{}
			opts := append([]upstash.Option{upstash.WithBaseURL(s.URL), upstash.WithHTTPClient(&http.Client{Transport: rec})}, tc.opts...)
			c, err := upstash.New(s.Email, s.APIKey, opts...)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.ListDatabases(t.Context()); err != nil {
				t.Fatal(err)
			}
			if _, err := c.CreateTeam(t.Context(), "ua-"+tc.name, false); err != nil {
				t.Fatal(err)
			}
			if len(rec.agents) != 2 {
				t.Fatalf("%d requests, want 2", len(rec.agents))
			}
			for _, ua := range rec.agents {
				if !strings.HasPrefix(ua, tc.prefix) || ua == tc.prefix && tc.name == "default" {
					t.Errorf("User-Agent %q, want %q...", ua, tc.prefix)
				}
			}
		})
	}
}

// rawGet answers the API's JSON for path, as a generic value.
func rawGet(t *testing.T, s *devapitest.Server, path string) any {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, s.URL+"/v2"+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(s.Email, s.APIKey)
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s %v", path, resp.StatusCode, b, err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// asJSON is v marshalled and decoded as a generic value.
func asJSON(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// subsetOf reports the keys of ours whose values differ from api's.
func subsetOf(ours, api map[string]any) []string {
	var diff []string
	for k, v := range ours {
		if !reflect.DeepEqual(v, api[k]) {
			diff = append(diff, k)
		}
	}
	return diff
}

// TestJSONIsTheAPIs checks that the SDK's types marshal to the API's own
// field names and values.
func TestJSONIsTheAPIs(t *testing.T) {
	t.Parallel()
	s := devapitest.NewServer(t)
	c, ctx := s.Client, t.Context()
	db := create(t, c, upstash.CreateDatabaseRequest{Name: "json", ReadRegions: []string{"eu-west-1"}})
	if err := c.CreateBackup(ctx, db.ID, "b"); err != nil {
		t.Fatal(err)
	}
	team, err := c.CreateTeam(ctx, "t", false)
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.GetDatabase(ctx, db.ID, false)
	if err != nil {
		t.Fatal(err)
	}
	backups, err := c.ListBackups(ctx, db.ID)
	if err != nil {
		t.Fatal(err)
	}
	teams, err := c.ListTeams(ctx)
	if err != nil {
		t.Fatal(err)
	}
	members, err := c.TeamMembers(ctx, team.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		ours any
		path string
	}{
		{"Database", got, "/redis/database/" + db.ID},
		{"Backup", backups[0], "/redis/list-backup/" + db.ID},
		{"Team", teams[0], "/teams"},
		{"TeamMember", members[0], "/teams/" + team.ID},
	} {
		api := rawGet(t, s, tc.path)
		if list, ok := api.([]any); ok {
			api = list[0]
		}
		ours := asJSON(t, tc.ours).(map[string]any)
		if diff := subsetOf(ours, api.(map[string]any)); len(diff) > 0 {
			t.Errorf("%s: fields %v differ\nours %v\napi  %v", tc.name, diff, ours, api)
		}
		// And back: decoding the API's JSON gives the same value.
		b, _ := json.Marshal(api)
		back := reflect.New(reflect.TypeOf(tc.ours))
		if err := json.Unmarshal(b, back.Interface()); err != nil {
			t.Fatalf("%s: unmarshal API JSON: %v", tc.name, err)
		}
		if !reflect.DeepEqual(back.Elem().Interface(), tc.ours) {
			t.Errorf("%s: decoded from the API's JSON\n %+v\nwant %+v", tc.name, back.Elem().Interface(), tc.ours)
		}
	}
	if ours := asJSON(t, backups[0]).(map[string]any); ours["daily_backup"] != "false" {
		t.Errorf("daily_backup = %#v, want the string \"false\"", ours["daily_backup"])
	}
}

func TestStatsJSON(t *testing.T) {
	t.Parallel()
	api := `{"connection_count":[{"x":"2025-08-31 15:12:52.799480932 +0000 UTC","y":3}],
		"keyspace":[{"x":"2025-08-31 15:13:52 +0000 UTC","y":10}],"throughput":[],
		"daily_net_commands":42,"total_monthly_requests":420}`
	var st upstash.Stats
	if err := json.Unmarshal([]byte(api), &st); err != nil {
		t.Fatal(err)
	}
	want := upstash.Stats{
		ConnectionCount: []upstash.Point{{Time: time.Date(2025, 8, 31, 15, 12, 52, 799480932, time.UTC), Value: 3}},
		Keyspace:        []upstash.Point{{Time: time.Date(2025, 8, 31, 15, 13, 52, 0, time.UTC), Value: 10}},
		Throughput:      []upstash.Point{},
		DailyCommands:   42,
		TotalCommands:   420,
	}
	if !reflect.DeepEqual(st, want) {
		t.Fatalf("decoded %+v\nwant %+v", st, want)
	}
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	var gotJSON, wantJSON any
	_ = json.Unmarshal(b, &gotJSON)
	_ = json.Unmarshal([]byte(api), &wantJSON)
	if !reflect.DeepEqual(gotJSON, wantJSON) {
		t.Errorf("marshalled %s\nwant %s", b, api)
	}
	if err := json.Unmarshal([]byte(`{"keyspace":[{"x":"yesterday","y":1}]}`), &st); err == nil {
		t.Error("a sample time that is not a time decoded without error")
	}
}

func TestContextCancelled(t *testing.T) {
	t.Parallel()
	s := devapitest.NewServer(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := s.Client.ListDatabases(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("ListDatabases with a cancelled context: %v, want context.Canceled", err)
	}
}
