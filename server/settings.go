package server

import (
	"context"
	"net/http"
	"net/netip"
	"slices"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/gen"
	"github.com/devapi-dev/devapi/internal/genserver"
)

// update changes the caller's database in the store, in one atomic
// read-modify-write, then brings the plane in line with what was stored. A
// crash in between is repaired by Reconcile, which serves what is stored.
// The plane never takes an older password from it: Serve carries the
// stored generation.
//
// A Placer fixes where a database lives, TLS included, so on one a change
// of TLS is refused (EINVALID) before anything is stored.
func (s *Server) update(ctx context.Context, id string, change func(*devapi.Database) error) (*devapi.Database, error) {
	if s.fixedTLS() {
		change = keepTLS(change)
	}
	d, err := s.store.UpdateDatabase(ctx, accountFrom(ctx).Email, id, change)
	if err != nil {
		return nil, err
	}
	pctx, cancel := s.planeContext(ctx)
	defer cancel()
	if err := s.plane.Serve(pctx, planeSpec(d)); err != nil {
		return nil, err
	}
	return d, nil
}

// keepTLS wraps change to refuse changing the database's TLS.
func keepTLS(change func(*devapi.Database) error) func(*devapi.Database) error {
	return func(d *devapi.Database) error {
		was := d.TLS
		if err := change(d); err != nil {
			return err
		}
		if d.TLS != was {
			scheme := "plain TCP"
			if was {
				scheme = "TLS"
			}
			return devapi.Errorf(devapi.EINVALID, "database %s is on a pool server that speaks %s only; its TLS cannot change", d.ID, scheme)
		}
		return nil
	}
}

// outcome sorts a database operation's error: the status to answer and its
// body, or the error itself when it is unexpected (a 500 through
// writeError).
func outcome(err error) (int, gen.Error, error) {
	return outcomeOf(err, "database not found")
}

// outcomeOf is outcome with the message a 404 answers.
func outcomeOf(err error, notFoundMsg string) (int, gen.Error, error) {
	if err == nil {
		return http.StatusOK, gen.Error{}, nil
	}
	switch status := errorStatus(err); status {
	case http.StatusBadRequest:
		return status, errorBody(err), nil
	case http.StatusNotFound:
		return status, messageBody(notFoundMsg), nil
	default:
		return status, gen.Error{}, err
	}
}

// toggle returns a change that sets a flag, or refuses with Upstash's
// "already enabled"/"already disabled" when it is set already.
func toggle(what string, field func(*devapi.Database) *bool, on bool) func(*devapi.Database) error {
	return func(d *devapi.Database) error {
		f := field(d)
		if *f == on {
			if on {
				return devapi.Errorf(devapi.EINVALID, "%s already enabled", what)
			}
			return devapi.Errorf(devapi.EINVALID, "%s already disabled", what)
		}
		*f = on
		return nil
	}
}

func eviction(d *devapi.Database) *bool    { return &d.Eviction }
func autoUpgrade(d *devapi.Database) *bool { return &d.AutoUpgrade }
func prodPack(d *devapi.Database) *bool    { return &d.ProdPack }

// RenameDatabase handles POST /v2/redis/rename/{id}.
func (s *Server) RenameDatabase(ctx context.Context, req genserver.RenameDatabaseRequestObject) (genserver.RenameDatabaseResponseObject, error) {
	d, err := s.update(ctx, req.Id, func(d *devapi.Database) error {
		d.Name = req.Body.Name
		return nil
	})
	switch status, body, err := outcome(err); status {
	case http.StatusOK:
		return genserver.RenameDatabase200JSONResponse(s.toDatabase(d, true)), nil
	case http.StatusBadRequest:
		return genserver.RenameDatabase400JSONResponse{BadRequestJSONResponse: genserver.BadRequestJSONResponse(body)}, nil
	case http.StatusNotFound:
		return genserver.RenameDatabase404JSONResponse{NotFoundJSONResponse: genserver.NotFoundJSONResponse(body)}, nil
	default:
		return nil, err
	}
}

// EnableTls handles POST /v2/redis/enable-tls/{id}. The database keeps its
// port and from then on speaks TLS only.
func (s *Server) EnableTls(ctx context.Context, req genserver.EnableTlsRequestObject) (genserver.EnableTlsResponseObject, error) {
	d, err := s.update(ctx, req.Id, toggle("tls", func(d *devapi.Database) *bool { return &d.TLS }, true))
	switch status, body, err := outcome(err); status {
	case http.StatusOK:
		return genserver.EnableTls200JSONResponse(s.toDatabase(d, true)), nil
	case http.StatusBadRequest:
		return genserver.EnableTls400JSONResponse{BadRequestJSONResponse: genserver.BadRequestJSONResponse(body)}, nil
	case http.StatusNotFound:
		return genserver.EnableTls404JSONResponse{NotFoundJSONResponse: genserver.NotFoundJSONResponse(body)}, nil
	default:
		return nil, err
	}
}

// EnableEviction handles POST /v2/redis/enable-eviction/{id}.
func (s *Server) EnableEviction(ctx context.Context, req genserver.EnableEvictionRequestObject) (genserver.EnableEvictionResponseObject, error) {
	_, err := s.update(ctx, req.Id, toggle("eviction", eviction, true))
	switch status, body, err := outcome(err); status {
	case http.StatusOK:
		return genserver.EnableEviction200JSONResponse(gen.OKOK), nil
	case http.StatusBadRequest:
		return genserver.EnableEviction400JSONResponse{BadRequestJSONResponse: genserver.BadRequestJSONResponse(body)}, nil
	case http.StatusNotFound:
		return genserver.EnableEviction404JSONResponse{NotFoundJSONResponse: genserver.NotFoundJSONResponse(body)}, nil
	default:
		return nil, err
	}
}

// DisableEviction handles POST /v2/redis/disable-eviction/{id}.
func (s *Server) DisableEviction(ctx context.Context, req genserver.DisableEvictionRequestObject) (genserver.DisableEvictionResponseObject, error) {
	_, err := s.update(ctx, req.Id, toggle("eviction", eviction, false))
	switch status, body, err := outcome(err); status {
	case http.StatusOK:
		return genserver.DisableEviction200JSONResponse(gen.OKOK), nil
	case http.StatusBadRequest:
		return genserver.DisableEviction400JSONResponse{BadRequestJSONResponse: genserver.BadRequestJSONResponse(body)}, nil
	case http.StatusNotFound:
		return genserver.DisableEviction404JSONResponse{NotFoundJSONResponse: genserver.NotFoundJSONResponse(body)}, nil
	default:
		return nil, err
	}
}

// EnableAutoUpgrade handles POST /v2/redis/enable-autoupgrade/{id}.
func (s *Server) EnableAutoUpgrade(ctx context.Context, req genserver.EnableAutoUpgradeRequestObject) (genserver.EnableAutoUpgradeResponseObject, error) {
	_, err := s.update(ctx, req.Id, toggle("auto upgrade", autoUpgrade, true))
	switch status, body, err := outcome(err); status {
	case http.StatusOK:
		return genserver.EnableAutoUpgrade200JSONResponse(gen.OKOK), nil
	case http.StatusBadRequest:
		return genserver.EnableAutoUpgrade400JSONResponse{BadRequestJSONResponse: genserver.BadRequestJSONResponse(body)}, nil
	case http.StatusNotFound:
		return genserver.EnableAutoUpgrade404JSONResponse{NotFoundJSONResponse: genserver.NotFoundJSONResponse(body)}, nil
	default:
		return nil, err
	}
}

// DisableAutoUpgrade handles POST /v2/redis/disable-autoupgrade/{id}.
func (s *Server) DisableAutoUpgrade(ctx context.Context, req genserver.DisableAutoUpgradeRequestObject) (genserver.DisableAutoUpgradeResponseObject, error) {
	_, err := s.update(ctx, req.Id, toggle("auto upgrade", autoUpgrade, false))
	switch status, body, err := outcome(err); status {
	case http.StatusOK:
		return genserver.DisableAutoUpgrade200JSONResponse(gen.OKOK), nil
	case http.StatusBadRequest:
		return genserver.DisableAutoUpgrade400JSONResponse{BadRequestJSONResponse: genserver.BadRequestJSONResponse(body)}, nil
	case http.StatusNotFound:
		return genserver.DisableAutoUpgrade404JSONResponse{NotFoundJSONResponse: genserver.NotFoundJSONResponse(body)}, nil
	default:
		return nil, err
	}
}

// EnableProdPack handles POST /v2/redis/enable-prodpack/{id}, which
// Upstash's Terraform provider calls (with the body null) though upstream's
// spec does not list it. The flag is stored and shown; nothing else changes.
func (s *Server) EnableProdPack(ctx context.Context, req genserver.EnableProdPackRequestObject) (genserver.EnableProdPackResponseObject, error) {
	_, err := s.update(ctx, req.Id, toggle("prod pack", prodPack, true))
	switch status, body, err := outcome(err); status {
	case http.StatusOK:
		return genserver.EnableProdPack200JSONResponse(gen.OKOK), nil
	case http.StatusBadRequest:
		return genserver.EnableProdPack400JSONResponse{BadRequestJSONResponse: genserver.BadRequestJSONResponse(body)}, nil
	case http.StatusNotFound:
		return genserver.EnableProdPack404JSONResponse{NotFoundJSONResponse: genserver.NotFoundJSONResponse(body)}, nil
	default:
		return nil, err
	}
}

// DisableProdPack handles POST /v2/redis/disable-prodpack/{id}.
func (s *Server) DisableProdPack(ctx context.Context, req genserver.DisableProdPackRequestObject) (genserver.DisableProdPackResponseObject, error) {
	_, err := s.update(ctx, req.Id, toggle("prod pack", prodPack, false))
	switch status, body, err := outcome(err); status {
	case http.StatusOK:
		return genserver.DisableProdPack200JSONResponse(gen.OKOK), nil
	case http.StatusBadRequest:
		return genserver.DisableProdPack400JSONResponse{BadRequestJSONResponse: genserver.BadRequestJSONResponse(body)}, nil
	case http.StatusNotFound:
		return genserver.DisableProdPack404JSONResponse{NotFoundJSONResponse: genserver.NotFoundJSONResponse(body)}, nil
	default:
		return nil, err
	}
}

// ChangePlan handles POST /v2/redis/{id}/change-plan. The plan sets the
// db_* limits; the memory limit reaches the plane as its maxmemory.
func (s *Server) ChangePlan(ctx context.Context, req genserver.ChangePlanRequestObject) (genserver.ChangePlanResponseObject, error) {
	err := s.changePlan(ctx, req.Id, string(req.Body.PlanName), req.Body.AutoUpgrade, req.Body.ProdPackEnabled)
	switch status, body, err := outcome(err); status {
	case http.StatusOK:
		return genserver.ChangePlan200JSONResponse(gen.OKOK), nil
	case http.StatusBadRequest:
		return genserver.ChangePlan400JSONResponse{BadRequestJSONResponse: genserver.BadRequestJSONResponse(body)}, nil
	case http.StatusNotFound:
		return genserver.ChangePlan404JSONResponse{NotFoundJSONResponse: genserver.NotFoundJSONResponse(body)}, nil
	default:
		return nil, err
	}
}

// ChangePlanLegacy handles POST /v2/redis/change-plan/{id}, the path
// change-plan had before May 2026, which Upstash's CLI still calls with
// {"plan": ...}. It changes the plan as ChangePlan does.
func (s *Server) ChangePlanLegacy(ctx context.Context, req genserver.ChangePlanLegacyRequestObject) (genserver.ChangePlanLegacyResponseObject, error) {
	plan, err := legacyPlan(req.Body)
	if err == nil {
		err = s.changePlan(ctx, req.Id, plan, req.Body.AutoUpgrade, req.Body.ProdPackEnabled)
	}
	switch status, body, err := outcome(err); status {
	case http.StatusOK:
		return genserver.ChangePlanLegacy200JSONResponse(gen.OKOK), nil
	case http.StatusBadRequest:
		return genserver.ChangePlanLegacy400JSONResponse{BadRequestJSONResponse: genserver.BadRequestJSONResponse(body)}, nil
	case http.StatusNotFound:
		return genserver.ChangePlanLegacy404JSONResponse{NotFoundJSONResponse: genserver.NotFoundJSONResponse(body)}, nil
	default:
		return nil, err
	}
}

// legacyPlan is the plan the older change-plan body names, in plan_name or
// in plan (not both). The CLI's pro and paid name no size: EINVALID rather
// than a size picked for the caller.
//
//lint:ignore SA1019 changePlanLegacy is deprecated in the spec, and served for the clients that still call it
func legacyPlan(b *gen.ChangePlanLegacyJSONRequestBody) (string, error) {
	switch {
	case b.PlanName != nil && b.Plan != nil:
		return "", devapi.Errorf(devapi.EINVALID, "give plan_name or plan, not both")
	case b.PlanName != nil:
		return string(*b.PlanName), nil
	case b.Plan == nil:
		return "", devapi.Errorf(devapi.EINVALID, "plan_name is required")
	}
	plan := *b.Plan
	if _, ok := devapi.PlanLimits(plan); !ok {
		return "", devapi.Errorf(devapi.EINVALID, "plan %s names no size; use a fixed plan (fixed_250mb, fixed_1gb, ...)", plan)
	}
	return plan, nil
}

// changePlan sets a database's plan, and its auto upgrade and prod pack
// flags where they are given. The plan sets the db_* limits; the memory
// limit reaches the plane as its maxmemory.
func (s *Server) changePlan(ctx context.Context, id, plan string, autoUpgrade, prodPack *bool) error {
	_, err := s.update(ctx, id, func(d *devapi.Database) error {
		d.Plan = plan
		if autoUpgrade != nil {
			d.AutoUpgrade = *autoUpgrade
		}
		if prodPack != nil {
			d.ProdPack = *prodPack
		}
		return nil
	})
	return err
}

// UpdateBudget handles PATCH /v2/redis/update-budget/{id}.
func (s *Server) UpdateBudget(ctx context.Context, req genserver.UpdateBudgetRequestObject) (genserver.UpdateBudgetResponseObject, error) {
	_, err := s.update(ctx, req.Id, func(d *devapi.Database) error {
		d.Budget = req.Body.Budget
		return nil
	})
	switch status, body, err := outcome(err); status {
	case http.StatusOK:
		return genserver.UpdateBudget200JSONResponse(gen.OKOK), nil
	case http.StatusBadRequest:
		return genserver.UpdateBudget400JSONResponse{BadRequestJSONResponse: genserver.BadRequestJSONResponse(body)}, nil
	case http.StatusNotFound:
		return genserver.UpdateBudget404JSONResponse{NotFoundJSONResponse: genserver.NotFoundJSONResponse(body)}, nil
	default:
		return nil, err
	}
}

// UpdateRegions handles POST /v2/redis/update-regions/{id}: the list
// replaces the read regions.
func (s *Server) UpdateRegions(ctx context.Context, req genserver.UpdateRegionsRequestObject) (genserver.UpdateRegionsResponseObject, error) {
	_, err := s.update(ctx, req.Id, func(d *devapi.Database) error {
		reads, err := readRegions(d.Platform, d.PrimaryRegion, req.Body.ReadRegions)
		if err != nil {
			return err
		}
		d.ReadRegions = reads
		return nil
	})
	switch status, body, err := outcome(err); status {
	case http.StatusOK:
		return genserver.UpdateRegions200JSONResponse(gen.OKOK), nil
	case http.StatusBadRequest:
		return genserver.UpdateRegions400JSONResponse{BadRequestJSONResponse: genserver.BadRequestJSONResponse(body)}, nil
	case http.StatusNotFound:
		return genserver.UpdateRegions404JSONResponse{NotFoundJSONResponse: genserver.NotFoundJSONResponse(body)}, nil
	default:
		return nil, err
	}
}

// UpdateAllowlist handles POST /v2/redis/update-allowlist/{id}, which
// Upstash's Terraform provider calls for ip_allowlist though upstream's spec
// does not list it: the list replaces the database's allowlist, as sent.
func (s *Server) UpdateAllowlist(ctx context.Context, req genserver.UpdateAllowlistRequestObject) (genserver.UpdateAllowlistResponseObject, error) {
	err := checkAllowlist(req.Body.AllowedIps)
	if err == nil {
		_, err = s.update(ctx, req.Id, func(d *devapi.Database) error {
			d.AllowedIPs = slices.Clone(nonNil(req.Body.AllowedIps))
			return nil
		})
	}
	switch status, body, err := outcome(err); status {
	case http.StatusOK:
		return genserver.UpdateAllowlist200JSONResponse(gen.OKOK), nil
	case http.StatusBadRequest:
		return genserver.UpdateAllowlist400JSONResponse{BadRequestJSONResponse: genserver.BadRequestJSONResponse(body)}, nil
	case http.StatusNotFound:
		return genserver.UpdateAllowlist404JSONResponse{NotFoundJSONResponse: genserver.NotFoundJSONResponse(body)}, nil
	default:
		return nil, err
	}
}

// checkAllowlist refuses an allowlist entry that is neither a CIDR nor a
// single IP address (EINVALID, naming the first such entry).
func checkAllowlist(entries []string) error {
	for _, e := range entries {
		if _, err := netip.ParsePrefix(e); err == nil {
			continue
		}
		if _, err := netip.ParseAddr(e); err == nil {
			continue
		}
		return devapi.Errorf(devapi.EINVALID, "allowed_ips: %q is not a CIDR (such as 10.0.0.0/8) or an IP address", e)
	}
	return nil
}

// nonNil is l, or an empty list for nil.
func nonNil(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

// readRegions checks read regions against a database's platform and
// primary region, and drops duplicates.
func readRegions[R ~string](platform, primary string, in []R) ([]string, error) {
	reads := []string{}
	for _, r := range in {
		region := string(r)
		if region == primary {
			return nil, devapi.Errorf(devapi.EINVALID, "read_regions must not contain the primary region %s", primary)
		}
		if platform == "gcp" {
			return nil, devapi.Errorf(devapi.EINVALID, "read regions are not available on gcp")
		}
		if !slices.Contains(reads, region) {
			reads = append(reads, region)
		}
	}
	return reads, nil
}
