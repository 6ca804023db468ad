package console

import (
	"net/http"
	"slices"
	"strings"

	"github.com/devapi-dev/devapi/upstash"
)

// backups handles GET /databases/{id}/backups.
func (c *Console) backups(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	db, err := s.client.GetDatabase(r.Context(), id, true)
	if err != nil {
		c.apiFailed(w, r, s, err, "")
		return
	}
	list, err := s.client.ListBackups(r.Context(), id)
	if err != nil {
		c.apiFailed(w, r, s, err, "")
		return
	}
	slices.SortFunc(list, func(a, b upstash.Backup) int { return b.CreationTime.Compare(a.CreationTime) })
	v := c.page(s, "Backups of "+db.Name, "databases")
	v.DB, v.Tab, v.Data = db, "backups", list
	c.render(w, r, http.StatusOK, "backups", v)
}

// createBackup handles POST /databases/{id}/backups.
func (c *Console) createBackup(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	back := dbPath(id, "backups")
	name := strings.TrimSpace(r.PostForm.Get("name"))
	if err := s.client.CreateBackup(r.Context(), id, name); err != nil {
		c.apiFailed(w, r, s, err, back)
		return
	}
	c.done(w, r, s, back, "Backup "+name+" created.")
}

// findBackup returns the database's backup with id backupID.
func findBackup(list []upstash.Backup, backupID string) (upstash.Backup, bool) {
	i := slices.IndexFunc(list, func(b upstash.Backup) bool { return b.BackupID == backupID })
	if i < 0 {
		return upstash.Backup{}, false
	}
	return list[i], true
}

// restorePage handles GET /databases/{id}/backups/{backup}/restore: what a
// restore replaces, and the button.
func (c *Console) restorePage(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	db, err := s.client.GetDatabase(r.Context(), id, true)
	if err != nil {
		c.apiFailed(w, r, s, err, "")
		return
	}
	list, err := s.client.ListBackups(r.Context(), id)
	if err != nil {
		c.apiFailed(w, r, s, err, "")
		return
	}
	b, ok := findBackup(list, r.PathValue("backup"))
	if !ok {
		c.fail(w, r, s, http.StatusNotFound, "This database has no such backup.")
		return
	}
	v := c.page(s, "Restore "+b.Name+" into "+db.Name, "databases")
	v.DB, v.Tab, v.Data = db, "backups", b
	c.render(w, r, http.StatusOK, "restore", v)
}

// restoreBackup handles POST /databases/{id}/backups/{backup}/restore.
func (c *Console) restoreBackup(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	back := dbPath(id, "backups")
	if err := s.client.RestoreBackup(r.Context(), id, r.PathValue("backup")); err != nil {
		c.apiFailed(w, r, s, err, back)
		return
	}
	c.done(w, r, s, back, "Backup restored.")
}

// deleteBackup handles POST /databases/{id}/backups/{backup}/delete.
func (c *Console) deleteBackup(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	back := dbPath(id, "backups")
	if err := s.client.DeleteBackup(r.Context(), id, r.PathValue("backup")); err != nil {
		c.apiFailed(w, r, s, err, back)
		return
	}
	c.done(w, r, s, back, "Backup deleted.")
}

// dailyBackup handles POST /databases/{id}/backups/daily: daily=on or off.
func (c *Console) dailyBackup(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	back := dbPath(id, "backups")
	var err error
	msg := "Daily backups enabled."
	if r.PostForm.Get("daily") == "on" {
		err = s.client.EnableDailyBackup(r.Context(), id)
	} else {
		err, msg = s.client.DisableDailyBackup(r.Context(), id), "Daily backups disabled."
	}
	if err != nil {
		c.apiFailed(w, r, s, err, back)
		return
	}
	c.done(w, r, s, back, msg)
}
