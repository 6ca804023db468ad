package server

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/gen"
	"github.com/devapi-dev/devapi/storetest"
)

// TestDatabaseWithCredentialsCopiesEveryField checks the field-by-field copy
// of toDatabaseWithCredentials against a JSON round trip from
// toDatabase(d, true), which cannot forget a field the generator adds.
func TestDatabaseWithCredentialsCopiesEveryField(t *testing.T) {
	s := &Server{}
	d := storetest.NewDatabase("db-1", "owner@example.com", time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC))
	d.ReadRegions = []string{"us-west-1"}
	got := s.toDatabaseWithCredentials(d)

	var want gen.DatabaseWithCredentials
	b, err := json.Marshal(s.toDatabase(d, true))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		gj, _ := json.Marshal(got)
		t.Errorf("field-by-field copy differs from the JSON round trip:\n got %s\nwant %s", gj, b)
	}
	// Every field the round trip fills must be filled: a zero field in
	// want means the test database does not exercise it.
	v := reflect.ValueOf(want)
	for i := range v.NumField() {
		if name := v.Type().Field(i).Name; v.Field(i).IsZero() && name != "NextDailyBackupTime" {
			t.Errorf("%s is zero in the reference: set it in the test database", name)
		}
	}
}

// toDatabaseWithCredentials is toDatabase(d, true) as the generated type
// of reset-password's answer, which repeats Database's fields with the
// credentials required rather than optional: the reference the answer's
// own encoding (appendResetAnswer) is checked against. The fields are
// copied one by one, as a JSON round trip would turn invalid UTF-8 into
// U+FFFD; TestDatabaseWithCredentialsCopiesEveryField checks that the copy
// leaves no field behind, against that round trip.
func (s *Server) toDatabaseWithCredentials(d *devapi.Database) gen.DatabaseWithCredentials {
	db := s.toDatabase(d, false)
	return gen.DatabaseWithCredentials{
		AllMembers:             db.AllMembers,
		AllowedIpRanges:        db.AllowedIpRanges,
		AutoUpgrade:            db.AutoUpgrade,
		Budget:                 db.Budget,
		ClusterId:              db.ClusterId,
		Consistent:             db.Consistent,
		CreationTime:           db.CreationTime,
		CustomerId:             db.CustomerId,
		DailyBackupEnabled:     db.DailyBackupEnabled,
		DatabaseId:             db.DatabaseId,
		DatabaseName:           db.DatabaseName,
		DatabaseType:           db.DatabaseType,
		DbAclDefaultUserStatus: db.DbAclDefaultUserStatus,
		DbAclEnabled:           db.DbAclEnabled,
		DbConnIdleTimeout:      db.DbConnIdleTimeout,
		DbDailyBandwidthLimit:  db.DbDailyBandwidthLimit,
		DbDiskThreshold:        db.DbDiskThreshold,
		DbEviction:             db.DbEviction,
		DbLuaCreditsPerMin:     db.DbLuaCreditsPerMin,
		DbLuaTimeout:           db.DbLuaTimeout,
		DbMaxClients:           db.DbMaxClients,
		DbMaxCommandsPerSecond: db.DbMaxCommandsPerSecond,
		DbMaxEntrySize:         db.DbMaxEntrySize,
		DbMaxLoadsPerSec:       db.DbMaxLoadsPerSec,
		DbMaxRequestSize:       db.DbMaxRequestSize,
		DbMemoryThreshold:      db.DbMemoryThreshold,
		DbRequestLimit:         db.DbRequestLimit,
		DbResourceSize:         db.DbResourceSize,
		DbStoreMaxIdle:         db.DbStoreMaxIdle,
		DbType:                 db.DbType,
		Endpoint:               db.Endpoint,
		Eviction:               db.Eviction,
		LastPlanUpgradeTime:    db.LastPlanUpgradeTime,
		ModifyingState:         db.ModifyingState,
		Multizone:              db.Multizone,
		NextDailyBackupTime:    db.NextDailyBackupTime,
		PoolId:                 db.PoolId,
		Port:                   db.Port,
		PrimaryMembers:         db.PrimaryMembers,
		PrimaryRegion:          db.PrimaryRegion,
		ProdPackEnabled:        db.ProdPackEnabled,
		PrometheusEnabled:      db.PrometheusEnabled,
		ReadRegions:            db.ReadRegions,
		Region:                 db.Region,
		Replicas:               db.Replicas,
		ReservedPerRegionPrice: db.ReservedPerRegionPrice,
		SecurityAddons:         db.SecurityAddons,
		State:                  db.State,
		Tls:                    db.Tls,
		Type:                   db.Type,
		UserEmail:              db.UserEmail,
		Password:               d.Password,
		RestToken:              d.RestToken,
		ReadOnlyRestToken:      d.ReadOnlyRestToken,
	}
}
