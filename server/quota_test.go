package server_test

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/internal/app"
	"github.com/devapi-dev/devapi/internal/redistest"
	"github.com/devapi-dev/devapi/server"
)

// Accounts of limitServer. Keys as long as the ones devapi makes.
const (
	limitEmail = "quota@example.com"
	limitKey   = "quota-key-0123456789abcdef0123456789abcdef"
	limitOther = "other@example.com"
	limitOKey  = "other-key-0123456789abcdef0123456789abcdef"
)

// fakeClock is a clock the test moves.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// limitServer is a real devapi (SQLite store, embedded plane, HTTP over
// loopback TCP) with two accounts and a clock the test controls.
type limitServer struct {
	url   string // …/v2
	srv   *server.Server
	store devapi.Store
	plane devapi.Plane
	clock *fakeClock
}

func newLimitServer(t *testing.T, configure func(*server.Config)) *limitServer {
	t.Helper()
	clock := &fakeClock{now: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}
	logs := &strings.Builder{}
	var logMu sync.Mutex
	logger := slog.New(slog.NewTextHandler(lockedWriter{&logMu, logs}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	t.Cleanup(func() {
		if t.Failed() {
			logMu.Lock()
			t.Logf("server log:\n%s", logs)
			logMu.Unlock()
		}
	})
	lo, hi := redistest.Ports(t, 1000)
	a, err := app.Open(t.Context(), app.Config{
		Dir:             t.TempDir(),
		Setup:           app.Accounts("test", map[string]string{limitEmail: limitKey, limitOther: limitOKey}),
		Server:          server.Config{Ports: server.PortRange{Min: lo, Max: hi}, Now: clock.Now, Logger: logger},
		ConfigureServer: configure,
		ManualJobs:      true,
	})
	if err != nil {
		t.Fatal(err)
	}
	a.Start()
	t.Cleanup(func() { _ = a.Close() })
	return &limitServer{url: a.APIURL() + "/v2", srv: a.Server(), store: a.Store(), plane: a.Plane(), clock: clock}
}

// lockedWriter serialises writes to w.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// reply is an HTTP reply, read whole.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// text is the error text of a reply: a bare JSON string or {"error": ...}.
func (a reply) text() string {
	var s string
	if json.Unmarshal(a.body, &s) == nil {
		return s
	}
	var o struct{ Error string }
	_ = json.Unmarshal(a.body, &o)
	return o.Error
}

// do sends a request with HTTP Basic credentials (none when email is "")
// through client (http.DefaultTransport's settings when nil).
func (l *limitServer) do(t testing.TB, client *http.Client, method, path, body, email, key string) reply {
	t.Helper()
	req, err := http.NewRequest(method, l.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if email != "" {
		req.SetBasicAuth(email, key)
	}
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{resp.StatusCode, resp.Header, b}
}

func (l *limitServer) createDatabase(t testing.TB, email, key, name string) reply {
	t.Helper()
	return l.do(t, nil, "POST", "/redis/database", fmt.Sprintf(`{"database_name":%q,"primary_region":"us-east-1","tls":false}`, name), email, key)
}

// databaseID is the database_id of a create's reply.
func databaseID(t testing.TB, a reply) string {
	t.Helper()
	var db struct {
		ID string `json:"database_id"`
	}
	if a.status != http.StatusOK || json.Unmarshal(a.body, &db) != nil || db.ID == "" {
		t.Fatalf("create: %d %s", a.status, a.body)
	}
	return db.ID
}

// count returns how many databases of email the store and the plane hold.
func (l *limitServer) count(t testing.TB, email string) (stored, served int) {
	t.Helper()
	dbs, err := l.store.Databases(t.Context(), email)
	if err != nil {
		t.Fatal(err)
	}
	held, err := l.plane.Databases(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	mine := map[string]bool{}
	for _, d := range dbs {
		mine[d.ID] = true
	}
	for _, id := range held {
		if mine[id] {
			served++
		}
	}
	return len(dbs), served
}

// TestDatabaseQuota: past --max-databases-per-account a create answers 400
// with the limit in its text and creates nothing, neither in the store nor
// on the plane; other accounts are not affected; a delete frees a slot.
func TestDatabaseQuota(t *testing.T) {
	l := newLimitServer(t, func(c *server.Config) { c.MaxDatabasesPerAccount = 3 })
	var ids []string
	for i := range 3 {
		ids = append(ids, databaseID(t, l.createDatabase(t, limitEmail, limitKey, fmt.Sprint("db", i))))
	}
	over := l.createDatabase(t, limitEmail, limitKey, "one-too-many")
	if over.status != http.StatusBadRequest || over.text() != "database limit reached: an account may have at most 3 databases" {
		t.Fatalf("create over the quota: %d %s", over.status, over.body)
	}
	if stored, served := l.count(t, limitEmail); stored != 3 || served != 3 {
		t.Fatalf("after a refused create: %d stored, %d served; want 3, 3", stored, served)
	}
	databaseID(t, l.createDatabase(t, limitOther, limitOKey, "theirs"))
	if a := l.do(t, nil, "DELETE", "/redis/database/"+ids[0], "", limitEmail, limitKey); a.status != http.StatusOK {
		t.Fatalf("delete: %d %s", a.status, a.body)
	}
	databaseID(t, l.createDatabase(t, limitEmail, limitKey, "after-delete"))
}

// TestConcurrentCreatesAtTheLastSlot: creates that race for an account's
// last database slot: exactly one wins, the others reply 400, and the
// account ends with exactly its quota. Likewise for teams and backups.
func TestConcurrentCreatesAtTheLastSlot(t *testing.T) {
	const racers = 8
	race := func(t *testing.T, send func() reply) (won int) {
		t.Helper()
		answers := make(chan reply, racers)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range racers {
			wg.Go(func() {
				<-start
				answers <- send()
			})
		}
		close(start)
		wg.Wait()
		close(answers)
		for a := range answers {
			switch {
			case a.status == http.StatusOK:
				won++
			case a.status != http.StatusBadRequest || !strings.Contains(a.text(), "limit reached"):
				t.Errorf("racer answered %d %s", a.status, a.body)
			}
		}
		return won
	}

	t.Run("databases", func(t *testing.T) {
		const quota = 4
		l := newLimitServer(t, func(c *server.Config) { c.MaxDatabasesPerAccount = quota })
		for i := range quota - 1 {
			databaseID(t, l.createDatabase(t, limitEmail, limitKey, fmt.Sprint("db", i)))
		}
		if won := race(t, func() reply { return l.createDatabase(t, limitEmail, limitKey, "racer") }); won != 1 {
			t.Errorf("%d of %d creates at the last slot won, want 1", won, racers)
		}
		if stored, served := l.count(t, limitEmail); stored != quota || served != quota {
			t.Errorf("%d stored, %d served; want %d", stored, served, quota)
		}
	})
	t.Run("teams", func(t *testing.T) {
		const quota = 2
		l := newLimitServer(t, func(c *server.Config) { c.MaxTeamsPerAccount = quota })
		for i := range quota - 1 {
			if a := l.do(t, nil, "POST", "/team", fmt.Sprintf(`{"team_name":"t%d","copy_cc":false}`, i), limitEmail, limitKey); a.status != http.StatusOK {
				t.Fatalf("create team: %d %s", a.status, a.body)
			}
		}
		won := race(t, func() reply {
			return l.do(t, nil, "POST", "/team", `{"team_name":"racer","copy_cc":false}`, limitEmail, limitKey)
		})
		if won != 1 {
			t.Errorf("%d of %d team creates at the last slot won, want 1", won, racers)
		}
		if teams, err := l.store.Teams(t.Context(), limitEmail); err != nil || len(teams) != quota {
			t.Errorf("%d teams (%v), want %d", len(teams), err, quota)
		}
	})
	t.Run("backups", func(t *testing.T) {
		const quota = 3
		l := newLimitServer(t, func(c *server.Config) { c.MaxBackupsPerDatabase = quota })
		id := databaseID(t, l.createDatabase(t, limitEmail, limitKey, "backed-up"))
		backup := func() reply {
			return l.do(t, nil, "POST", "/redis/create-backup/"+id, `{"name":"b"}`, limitEmail, limitKey)
		}
		for range quota - 1 {
			if a := backup(); a.status != http.StatusOK {
				t.Fatalf("create backup: %d %s", a.status, a.body)
			}
		}
		if won := race(t, backup); won != 1 {
			t.Errorf("%d of %d backups at the last slot won, want 1", won, racers)
		}
		if backups, err := l.store.Backups(t.Context(), id); err != nil || len(backups) != quota {
			t.Errorf("%d backups (%v), want %d", len(backups), err, quota)
		}
	})
}

// TestTeamAndBackupQuotas: past --max-teams-per-account a team create
// answers 400 and makes no team; past --max-backups-per-database a backup
// answers 400 and stores none; deleting one frees a slot.
func TestTeamAndBackupQuotas(t *testing.T) {
	l := newLimitServer(t, func(c *server.Config) { c.MaxTeamsPerAccount = 1; c.MaxBackupsPerDatabase = 1 })
	team := l.do(t, nil, "POST", "/team", `{"team_name":"first","copy_cc":false}`, limitEmail, limitKey)
	if team.status != http.StatusOK {
		t.Fatalf("create team: %d %s", team.status, team.body)
	}
	over := l.do(t, nil, "POST", "/team", `{"team_name":"second","copy_cc":false}`, limitEmail, limitKey)
	if over.status != http.StatusBadRequest || over.text() != "team limit reached: an account may own at most 1 teams" {
		t.Fatalf("second team: %d %s", over.status, over.body)
	}
	if teams, _ := l.store.Teams(t.Context(), limitEmail); len(teams) != 1 {
		t.Fatalf("%d teams after a refused create, want 1", len(teams))
	}
	var created struct {
		ID string `json:"team_id"`
	}
	_ = json.Unmarshal(team.body, &created)
	if a := l.do(t, nil, "DELETE", "/team/"+created.ID, "", limitEmail, limitKey); a.status != http.StatusOK {
		t.Fatalf("delete team: %d %s", a.status, a.body)
	}
	if a := l.do(t, nil, "POST", "/team", `{"team_name":"again","copy_cc":false}`, limitEmail, limitKey); a.status != http.StatusOK {
		t.Fatalf("team after a delete: %d %s", a.status, a.body)
	}

	id := databaseID(t, l.createDatabase(t, limitEmail, limitKey, "backed-up"))
	if a := l.do(t, nil, "POST", "/redis/create-backup/"+id, `{"name":"one"}`, limitEmail, limitKey); a.status != http.StatusOK {
		t.Fatalf("backup: %d %s", a.status, a.body)
	}
	over = l.do(t, nil, "POST", "/redis/create-backup/"+id, `{"name":"two"}`, limitEmail, limitKey)
	if over.status != http.StatusBadRequest || over.text() != "backup limit reached: a database may have at most 1 backups; delete one first" {
		t.Fatalf("second backup: %d %s", over.status, over.body)
	}
	backups, err := l.store.Backups(t.Context(), id)
	if err != nil || len(backups) != 1 {
		t.Fatalf("%d backups after a refused one (%v), want 1", len(backups), err)
	}
	if a := l.do(t, nil, "DELETE", "/redis/delete-backup/"+id+"/"+backups[0].ID, "", limitEmail, limitKey); a.status != http.StatusOK {
		t.Fatalf("delete backup: %d %s", a.status, a.body)
	}
	if a := l.do(t, nil, "POST", "/redis/create-backup/"+id, `{"name":"again"}`, limitEmail, limitKey); a.status != http.StatusOK {
		t.Fatalf("backup after a delete: %d %s", a.status, a.body)
	}
}

// TestMoveToTeamQuota: a team is an account with a database quota of its
// own, so moving databases into a full team answers 400 and moves nothing:
// teams do not lift the per-account cap.
func TestMoveToTeamQuota(t *testing.T) {
	l := newLimitServer(t, func(c *server.Config) { c.MaxDatabasesPerAccount = 1 })
	team := l.do(t, nil, "POST", "/team", `{"team_name":"t","copy_cc":false}`, limitEmail, limitKey)
	var created struct {
		ID string `json:"team_id"`
	}
	if team.status != http.StatusOK || json.Unmarshal(team.body, &created) != nil {
		t.Fatalf("create team: %d %s", team.status, team.body)
	}
	move := func(id string) reply {
		return l.do(t, nil, "POST", "/redis/move-to-team", fmt.Sprintf(`{"team_id":%q,"database_id":%q}`, created.ID, id), limitEmail, limitKey)
	}
	first := databaseID(t, l.createDatabase(t, limitEmail, limitKey, "first"))
	if a := move(first); a.status != http.StatusOK {
		t.Fatalf("move: %d %s", a.status, a.body)
	}
	second := databaseID(t, l.createDatabase(t, limitEmail, limitKey, "second"))
	if a := move(second); a.status != http.StatusBadRequest || !strings.HasPrefix(a.text(), "database limit reached") {
		t.Fatalf("move into a full team: %d %s", a.status, a.body)
	}
	if _, err := l.store.Database(t.Context(), limitEmail, second); err != nil {
		t.Fatalf("the refused move moved the database: %v", err)
	}
}

// loopbackClient returns an HTTP client whose connections come from the
// loopback address ip (127.0.0.0/8 is all loopback on Linux), so a test can
// be two clients.
func loopbackClient(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 10 * time.Second}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DialContext: d.DialContext}}
}

// TestDailyBackupsKeepTheCap: at the backup cap a daily backup replaces the
// oldest daily one, so daily backups go on and the count stays at the cap;
// a cap full of requested backups, which only their owner deletes, skips
// the daily backup.
func TestDailyBackupsKeepTheCap(t *testing.T) {
	l := newLimitServer(t, func(c *server.Config) { c.MaxBackupsPerDatabase = 2 })
	id := databaseID(t, l.createDatabase(t, limitEmail, limitKey, "daily"))
	if a := l.do(t, nil, "PATCH", "/redis/enable-dailybackup/"+id, "", limitEmail, limitKey); a.status != http.StatusOK {
		t.Fatalf("enable daily backup: %d %s", a.status, a.body)
	}
	names := func() []string {
		t.Helper()
		backups, err := l.store.Backups(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, b := range backups {
			out = append(out, b.Name)
		}
		slices.Sort(out)
		return out
	}
	day := func() {
		t.Helper()
		if err := l.srv.TakeDailyBackups(t.Context()); err != nil {
			t.Fatal(err)
		}
		l.clock.Add(25 * time.Hour)
	}
	day()
	day()
	day()
	if got, want := strings.Join(names(), " "), "daily-2026-12-02 daily-2026-12-03"; got != want {
		t.Fatalf("after three daily backups with a cap of 2: %s, want %s", got, want)
	}

	backups, _ := l.store.Backups(t.Context(), id)
	for _, b := range backups {
		if err := l.store.DeleteBackup(t.Context(), id, b.ID); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"mine-1", "mine-2"} {
		if a := l.do(t, nil, "POST", "/redis/create-backup/"+id, `{"name":"`+name+`"}`, limitEmail, limitKey); a.status != http.StatusOK {
			t.Fatalf("backup: %d %s", a.status, a.body)
		}
	}
	day()
	if got, want := strings.Join(names(), " "), "mine-1 mine-2"; got != want {
		t.Fatalf("daily backup at a cap of requested backups: %s, want %s", got, want)
	}
}
