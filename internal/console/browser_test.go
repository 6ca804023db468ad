package console_test

import (
	"context"
	"crypto/tls"
	"flag"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/redis/go-redis/v9"
)

var update = flag.Bool("update", false, "rewrite the screenshots in docs/console/ with the current pages")

// chromium returns the headless Chromium to drive, or skips the test when
// none is installed (fails under CI=true, where .ci/run installs it).
func chromium(tb testing.TB) string {
	tb.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		tb.Fatal("chromium is not installed; .ci/run installs the Debian package chromium")
	}
	tb.Skip("chromium is not installed (apt-get install chromium); skipping the browser test")
	return ""
}

// newBrowser starts a headless Chromium with a fresh profile and returns a
// tab's context; the browser ends with the test.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium(t)),
		chromedp.Headless,
		chromedp.NoSandbox, // CI runs as root
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1100, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelTab(); cancelAlloc() })
	// The first call starts the browser, with a context that has no deadline
	// (a deadline there would stop the browser); each step has one (step).
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// stepTimeout bounds one step of the browser test.
const stepTimeout = time.Minute

// step runs actions in the tab, failing the test with the step's name.
func step(t *testing.T, ctx context.Context, name string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(sctx, actions...); err != nil {
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		t.Fatalf("%s (at %s): %v", name, loc, err)
	}
}

// read runs one action that answers a value.
func read[T any](t *testing.T, ctx context.Context, name string, a chromedp.Action[T]) T {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(sctx, a)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return v
}

// shoot saves a screenshot of the viewport as name.png under dir, and into
// docs/console/ with -update.
func shoot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	shootTo(t, ctx, dir, name, *update)
}

// shootTo saves a screenshot under dir, and into docs/console/ when keep.
func shootTo(t *testing.T, ctx context.Context, dir, name string, keep bool) {
	t.Helper()
	read(t, ctx, "scroll to the top", chromedp.Evaluate[bool](`window.scrollTo(0, 0), true`))
	png := read(t, ctx, "screenshot "+name, chromedp.CaptureScreenshot())
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
	if keep {
		if err := os.WriteFile(filepath.Join("..", "..", "docs", "console", name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// watchConsole collects what the pages write to the browser's console
// (errors, exceptions, Content-Security-Policy refusals) from now on. The
// check it returns fails the test for any warning or error, once the pages
// have written everything.
func watchConsole(t *testing.T, ctx context.Context) (check func()) {
	t.Helper()
	const sentinel = "devapi-console-test: end of the flow"
	wctx, cancel := context.WithCancel(ctx)
	messages := chromedp.Console(wctx)
	var got []chromedp.ConsoleMessage
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range messages {
			if err != nil || strings.Contains(m.Text, sentinel) {
				return
			}
			got = append(got, m)
		}
	}()
	return func() {
		t.Helper()
		_, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`console.log("`+sentinel+`"), true`))
		if err != nil {
			cancel()
		}
		<-done
		cancel()
		for _, m := range got {
			switch m.Type {
			case chromedp.ConsoleLog, chromedp.ConsoleDebug, chromedp.ConsoleInfo:
			default:
				t.Errorf("the browser's console: %s", m)
			}
		}
	}
}

// TestBrowserFlow drives the console in headless Chromium as a person
// would: sign in, create a database, reveal and copy its credentials, write
// a key and read it back over REST, restore a backup, reset the password and
// check both passwords with go-redis, sign out. It saves a screenshot of
// each page (-update: into docs/console/ too).
func TestBrowserFlow(t *testing.T) {
	st := newStack(t, nil)
	ctx := newBrowser(t)
	shots := t.TempDir()
	t.Logf("screenshots in %s", shots)
	base := st.url
	checkConsole := watchConsole(t, ctx)
	defer checkConsole()

	for _, name := range []string{"clipboard-read", "clipboard-write"} {
		if _, err := chromedp.CallBrowser(ctx, cdpbrowser.SetPermission, cdpbrowser.SetPermissionParams{
			Permission: &cdpbrowser.PermissionDescriptor{Name: name}, Setting: "granted", Origin: base,
		}); err != nil {
			t.Fatalf("grant %s: %v", name, err)
		}
	}
	if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "light"}},
	}); err != nil {
		t.Fatalf("emulate light mode: %v", err)
	}

	// Sign in.
	step(t, ctx, "sign-in page", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.ID("email")))
	shoot(t, ctx, shots, "signin")
	step(t, ctx, "sign in",
		chromedp.SendKeys(chromedp.ID("email"), st.email),
		chromedp.SendKeys(chromedp.ID("api_key"), st.apiKey),
		chromedp.Submit(chromedp.ID("api_key")),
		chromedp.WaitVisible(`//h1[text()="Databases"]`))

	// Create a database.
	step(t, ctx, "create a database",
		chromedp.SendKeys(chromedp.ID("name"), "web-orders"),
		chromedp.Submit(chromedp.ID("name")),
		chromedp.WaitVisible(`//h1[text()="Database web-orders"]`))
	detailsURL := read(t, ctx, "location", chromedp.Location())
	dbID := detailsURL[strings.LastIndex(detailsURL, "/")+1:]
	db, err := st.client.GetDatabase(t.Context(), dbID, false)
	if err != nil {
		t.Fatalf("the API does not know the database the console created: %v", err)
	}
	step(t, ctx, "databases list", chromedp.Navigate(base+"/databases"), chromedp.WaitVisible(`//a[text()="web-orders"]`))
	shoot(t, ctx, shots, "databases")

	// Reveal and copy its credentials.
	step(t, ctx, "details", chromedp.Navigate(base+"/databases/"+dbID), chromedp.WaitVisible(chromedp.ID("password")))
	if typ := read(t, ctx, "password type", chromedp.AttributeValue(chromedp.ID("password"), "type")); typ.Value != "password" {
		t.Fatalf("the password is shown before it is revealed (input type %q)", typ.Value)
	}
	shoot(t, ctx, shots, "details")
	step(t, ctx, "reveal", chromedp.Click(chromedp.CSS(`button.reveal[data-target="password"]`)),
		chromedp.WaitVisible(`//input[@id="password" and @type="text"]`))
	if shown := read(t, ctx, "password", chromedp.Value(chromedp.ID("password"))); shown != db.Password {
		t.Fatal("the revealed password is not the API's")
	}
	step(t, ctx, "copy", chromedp.Click(chromedp.CSS(`button.copy[data-target="rest-token"]`)),
		chromedp.WaitVisible(`//button[@data-target="rest-token" and @data-copied="true"]`))
	if copied := read(t, ctx, "clipboard", chromedp.Evaluate[string](`navigator.clipboard.readText()`, chromedp.EvalAwaitPromise)); copied != db.RestToken {
		t.Fatalf("Copy put %d characters on the clipboard, not the REST token", len(copied))
	}

	// Write a key in the data browser; read it back over REST.
	step(t, ctx, "add a key",
		chromedp.Navigate(base+"/databases/"+dbID+"/data"), chromedp.WaitVisible(chromedp.ID("add-key")),
		chromedp.SendKeys(chromedp.ID("add-key"), "cart:42"),
		chromedp.SendKeys(chromedp.ID("add-value"), "3 apples"),
		chromedp.Submit(chromedp.ID("add-key")),
		chromedp.WaitVisible(`//dd[@id="key-type" and text()="string"]`))
	shoot(t, ctx, shots, "key")
	if got := restGet(t, st.restURL, db.RestToken, "cart:42"); got != "3 apples" {
		t.Fatalf("REST reads %v after the browser wrote the key", got)
	}
	for _, k := range []string{"user:1", "user:2", "session:abc"} {
		restSet(t, st.restURL, db.RestToken, k, "v")
	}
	step(t, ctx, "data browser",
		chromedp.Navigate(base+"/databases/"+dbID+"/data"), chromedp.WaitVisible(`//code[text()="cart:42"]`),
		chromedp.SendKeys(chromedp.ID("line"), "DBSIZE"), chromedp.Submit(chromedp.ID("line")),
		chromedp.WaitVisible(`//pre[@id="result" and text()="4"]`))
	shoot(t, ctx, shots, "data")

	// Back up, change the key, restore.
	step(t, ctx, "create a backup",
		chromedp.Navigate(base+"/databases/"+dbID+"/backups"), chromedp.WaitVisible(chromedp.ID("backup-name")),
		chromedp.SendKeys(chromedp.ID("backup-name"), "before-change"),
		chromedp.Submit(chromedp.ID("backup-name")),
		chromedp.WaitVisible(`//td[text()="before-change"]`))
	shoot(t, ctx, shots, "backups")
	restSet(t, st.restURL, db.RestToken, "cart:42", "changed")
	step(t, ctx, "restore",
		chromedp.Click(`//a[text()="Restore…"]`),
		chromedp.WaitVisible(chromedp.ID("confirm-restore")),
		chromedp.Click(chromedp.ID("confirm-restore")),
		chromedp.WaitVisible(`//p[contains(@class,"flash") and text()="Backup restored."]`))
	if got := restGet(t, st.restURL, db.RestToken, "cart:42"); got != "3 apples" {
		t.Fatalf("after restore REST reads %v, want the backup's value", got)
	}

	// Stats: an hour of samples, a minute apart, while keys are written.
	for i := range 60 {
		for j := range i % 7 {
			restSet(t, st.restURL, db.RestToken, "load:"+strconv.Itoa(i*7+j), "v")
		}
		if err := st.app.Server().SampleStats(t.Context()); err != nil {
			t.Fatal(err)
		}
		st.apiClock.Advance(time.Minute)
	}
	step(t, ctx, "stats", chromedp.Navigate(base+"/databases/"+dbID+"/stats?period=1h"), chromedp.WaitVisible(`//h1[text()="Stats of web-orders"]`),
		chromedp.WaitVisible(`svg polyline.line`))
	shoot(t, ctx, shots, "stats")
	step(t, ctx, "teams",
		chromedp.Navigate(base+"/teams"), chromedp.WaitVisible(chromedp.ID("team-name")),
		chromedp.SendKeys(chromedp.ID("team-name"), "platform"), chromedp.Submit(chromedp.ID("team-name")),
		chromedp.WaitVisible(`//h1[text()="Team platform"]`))
	shoot(t, ctx, shots, "team")

	// Reset the password: the old one gets WRONGPASS, the shown one works.
	step(t, ctx, "reset password",
		chromedp.Navigate(base+"/databases/"+dbID), chromedp.Click(`//a[contains(text(),"Reset password")]`),
		chromedp.WaitVisible(chromedp.ID("confirm-reset")))
	shoot(t, ctx, shots, "reset")
	step(t, ctx, "confirm reset",
		chromedp.Click(chromedp.ID("confirm-reset")),
		chromedp.WaitVisible(`//p[contains(@class,"flash") and starts-with(text(),"Password reset.")]`),
		chromedp.WaitVisible(`//input[@id="password" and @type="text"]`))
	newPassword := read(t, ctx, "new password", chromedp.Value(chromedp.ID("password")))
	if newPassword == "" || newPassword == db.Password {
		t.Fatal("the page does not show a new password after the reset")
	}
	addr := net.JoinHostPort(db.Endpoint, strconv.Itoa(db.Port))
	ping := func(password string) error {
		rdb := redis.NewClient(&redis.Options{Addr: addr, Username: "default", Password: password, MaxRetries: -1,
			TLSConfig: &tls.Config{RootCAs: st.caPool, ServerName: db.Endpoint, MinVersion: tls.VersionTLS12}})
		defer rdb.Close()
		return rdb.Ping(t.Context()).Err()
	}
	if err := ping(db.Password); err == nil || !strings.Contains(err.Error(), "WRONGPASS") {
		t.Fatalf("the old password after reset: %v, want WRONGPASS", err)
	}
	if err := ping(newPassword); err != nil {
		t.Fatalf("the password the page shows: %v", err)
	}

	// Sign out.
	step(t, ctx, "sign out",
		chromedp.Click(`//button[text()="Sign out"]`),
		chromedp.WaitVisible(`//p[contains(@class,"flash") and text()="You are signed out."]`),
		chromedp.Navigate(base+"/databases"), chromedp.WaitVisible(chromedp.ID("email")))
	if loc := read(t, ctx, "location", chromedp.Location()); !strings.HasSuffix(loc, "/signin") {
		t.Fatalf("after sign-out /databases is at %s", loc)
	}
}

// TestBrowserManners checks what a person notices without reading: the
// keyboard reaches the page with a visible focus ring, a phone-width screen
// needs no sideways scrolling, and a dark system theme gets dark pages.
func TestBrowserManners(t *testing.T) {
	st := newStack(t, nil)
	db := st.database(t, "a-database-with-a-rather-long-name")
	restSet(t, st.restURL, db.RestToken, "user:"+strings.Repeat("x", 120), "v")
	ctx := newBrowser(t)
	shots := t.TempDir()
	t.Logf("screenshots in %s", shots)
	checkConsole := watchConsole(t, ctx)
	defer checkConsole()
	step(t, ctx, "sign in by link", chromedp.Navigate(st.url+st.console.SignInLink(st.email, st.apiKey)),
		chromedp.WaitVisible(`//h1[text()="Databases"]`))

	// Keyboard: Tab reaches the first link, and its focus is drawn.
	step(t, ctx, "tab", chromedp.KeyEvent(kb.Tab))
	focus := read(t, ctx, "focus", chromedp.Evaluate[[]string](`[document.activeElement.textContent.trim(), getComputedStyle(document.activeElement).outlineWidth]`))
	if len(focus) != 2 || focus[0] != "devapi console" || focus[1] != "3px" {
		t.Errorf("after Tab the focus is on %q with outline %q, want the first link, outlined", focus[0], focus[1])
	}

	// Phone width: no page is wider than the screen.
	step(t, ctx, "phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateScale(2)))
	for _, path := range []string{"/databases", "/databases/" + db.ID, "/databases/" + db.ID + "/data", "/databases/" + db.ID + "/stats", "/databases/" + db.ID + "/backups", "/teams"} {
		step(t, ctx, "open "+path, chromedp.Navigate(st.url+path), chromedp.WaitVisible("h1"))
		if w := read(t, ctx, "widths "+path, chromedp.Evaluate[[]float64](`[document.documentElement.scrollWidth, window.innerWidth]`)); w[0] > 390 || w[1] != 390 {
			t.Errorf("%s is %v px wide, its viewport %v px, on a 390 px phone", path, w[0], w[1])
		}
	}
	step(t, ctx, "phone details", chromedp.Navigate(st.url+"/databases/"+db.ID), chromedp.WaitVisible("h1"))
	shootTo(t, ctx, shots, "phone-details", false)
	step(t, ctx, "laptop", chromedp.EmulateReset())

	// Dark mode follows the system.
	if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}},
	}); err != nil {
		t.Fatal(err)
	}
	step(t, ctx, "dark", chromedp.Navigate(st.url+"/databases"), chromedp.WaitVisible("h1"))
	if bg := read(t, ctx, "background", chromedp.Evaluate[string](`getComputedStyle(document.body).backgroundColor`)); bg != "rgb(19, 20, 22)" {
		t.Errorf("dark mode background %s", bg)
	}
	shootTo(t, ctx, shots, "dark-databases", false)
}
