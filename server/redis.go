package server

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"

	"github.com/google/uuid"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/gen"
	"github.com/devapi-dev/devapi/internal/genserver"
)

// Defaults of createDatabase, as on the real service.
const (
	defaultPlatform = "aws"
	defaultPlan     = devapi.PlanPayg
	defaultBudget   = 20
)

// gcpRegions are the primary regions of the gcp platform; every other
// region of the spec's enum is an AWS region.
var gcpRegions = []string{"us-central1", "us-east4", "europe-west1", "asia-northeast1"}

// ListDatabases handles GET /v2/redis/databases.
func (s *Server) ListDatabases(ctx context.Context, _ genserver.ListDatabasesRequestObject) (genserver.ListDatabasesResponseObject, error) {
	dbs, err := s.store.Databases(ctx, accountFrom(ctx).Email)
	if err != nil {
		return nil, err
	}
	out := make(genserver.ListDatabases200JSONResponse, 0, len(dbs))
	for _, d := range dbs {
		out = append(out, s.toDatabase(d, true))
	}
	return out, nil
}

// CreateDatabase handles POST /v2/redis/database.
func (s *Server) CreateDatabase(ctx context.Context, req genserver.CreateDatabaseRequestObject) (genserver.CreateDatabaseResponseObject, error) {
	d, err := s.newDatabase(ctx, req.Body)
	if err != nil {
		if errorStatus(err) == http.StatusBadRequest {
			return genserver.CreateDatabase400JSONResponse{BadRequestJSONResponse: genserver.BadRequestJSONResponse(errorBody(err))}, nil
		}
		return nil, err
	}
	release, err := s.reserveDatabase(ctx, d.Owner, d.ID)
	if err == nil {
		defer release()
		err = s.createOnPlane(ctx, d)
	}
	if err != nil {
		if errorStatus(err) == http.StatusBadRequest {
			return genserver.CreateDatabase400JSONResponse{BadRequestJSONResponse: genserver.BadRequestJSONResponse(errorBody(err))}, nil
		}
		return nil, err
	}
	return genserver.CreateDatabase200JSONResponse(s.toDatabase(d, true)), nil
}

// newDatabase checks a create request and builds the database it asks for.
func (s *Server) newDatabase(ctx context.Context, body *gen.CreateDatabaseRequest) (*devapi.Database, error) {
	if body == nil {
		return nil, devapi.Errorf(devapi.EINVALID, "request body is required")
	}
	if body.Region != nil && *body.Region != "global" {
		return nil, devapi.Errorf(devapi.EINVALID, "regional db creation is deprecated")
	}
	name := deref(body.DatabaseName)
	if name == "" {
		name = deref(body.Name)
	}
	if name == "" {
		return nil, devapi.Errorf(devapi.EINVALID, "database_name is required")
	}
	if body.PrimaryRegion == nil {
		return nil, devapi.Errorf(devapi.EINVALID, "primary_region is required")
	}
	primary := string(*body.PrimaryRegion)
	platform := defaultPlatform
	if body.Platform != nil {
		platform = string(*body.Platform)
	}
	if isGCP := slices.Contains(gcpRegions, primary); isGCP != (platform == "gcp") {
		return nil, devapi.Errorf(devapi.EINVALID, "primary_region %s is not a region of platform %s", primary, platform)
	}
	var reads []string
	if body.ReadRegions != nil {
		var err error
		if reads, err = readRegions(platform, primary, *body.ReadRegions); err != nil {
			return nil, err
		}
	}
	plan := defaultPlan
	if body.Plan != nil {
		plan = string(*body.Plan)
	}
	budget := int64(defaultBudget)
	if body.Budget != nil {
		budget = *body.Budget
	}
	return &devapi.Database{
		ID:            uuid.NewString(),
		Name:          name,
		Owner:         accountFrom(ctx).Email,
		Platform:      platform,
		PrimaryRegion: primary,
		ReadRegions:   reads,
		Plan:          plan,
		Budget:        budget,
		TLS:           body.Tls == nil || *body.Tls,
		Eviction:      deref(body.Eviction),
		AutoUpgrade:   deref(body.AutoUpgrade),
		ProdPack:      deref(body.ProdPackEnabled),
		State:         "active",
		Endpoint:      s.advertisedHost,
		CreatedAt:     s.now().UTC(),
		Credentials:   devapi.Credentials{Password: devapi.NewPassword(), Generation: 1},
	}, nil
}

// GetDatabase handles GET /v2/redis/database/{id}.
func (s *Server) GetDatabase(ctx context.Context, req genserver.GetDatabaseRequestObject) (genserver.GetDatabaseResponseObject, error) {
	hide := false
	if c := req.Params.Credentials; c != nil {
		switch *c {
		case "hide":
			hide = true
		case "show", "":
		default:
			err := devapi.Errorf(devapi.EINVALID, "credentials must be %q or left out", "hide")
			return genserver.GetDatabase400JSONResponse{BadRequestJSONResponse: genserver.BadRequestJSONResponse(errorBody(err))}, nil
		}
	}
	d, err := s.store.Database(ctx, accountFrom(ctx).Email, req.Id)
	if devapi.ErrorCode(err) == devapi.ENOTFOUND {
		return genserver.GetDatabase404JSONResponse{NotFoundJSONResponse: notFound()}, nil
	} else if err != nil {
		return nil, err
	}
	return genserver.GetDatabase200JSONResponse(s.toDatabase(d, !hide)), nil
}

// DeleteDatabase handles DELETE /v2/redis/database/{id}.
func (s *Server) DeleteDatabase(ctx context.Context, req genserver.DeleteDatabaseRequestObject) (genserver.DeleteDatabaseResponseObject, error) {
	owner := accountFrom(ctx).Email
	d, err := s.store.Database(ctx, owner, req.Id) // for its port, to free after
	if err == nil {
		err = s.store.DeleteDatabase(ctx, owner, req.Id)
	}
	if devapi.ErrorCode(err) == devapi.ENOTFOUND {
		return genserver.DeleteDatabase404JSONResponse{NotFoundJSONResponse: notFound()}, nil
	} else if err != nil {
		return nil, err
	}
	// The store no longer has it; a crash before the Redis stops is undone by
	// start-up reconciliation.
	pctx, cancel := s.planeContext(ctx)
	defer cancel()
	if err := s.plane.Remove(pctx, req.Id); err != nil {
		return nil, err
	}
	s.releasePort(d.Port, false)
	s.resetPorts.forget(req.Id)
	return genserver.DeleteDatabase200JSONResponse(gen.OKOK), nil
}

// ResetPassword handles POST /v2/redis/reset-password/{id}.
//
// It writes to the store once: the REST tokens carry the database's port,
// which a database keeps for life, so the port is remembered from the
// database's first reset (resetPorts) instead of read before each one; the
// stored row, which SetCredentials returns, confirms it.
//
// The new password and tokens are committed to the store first, in one
// atomic change that moves the database's generation forward; then the
// plane applies the password, refusing any generation older than the one it
// holds; then the answer goes out. So overlapping resets end with the
// credentials of the one that committed last, on the store and on the plane,
// whatever order they reach the plane in; and a crash at any step loses no
// acknowledged reset: what is stored is served again by Reconcile at start.
//
// When the plane does not take the password (a Redis restarting, paused or
// wedged, or one the plane could not serve) the answer is 503, never a 404
// for a database that exists: the reset is stored, and the repair loop
// (RunReconcile) applies it once the Redis answers, without another reset.
func (s *Server) ResetPassword(ctx context.Context, req genserver.ResetPasswordRequestObject) (genserver.ResetPasswordResponseObject, error) {
	ri := info(ctx)
	owner := ri.account.Email
	cached, known := s.resetPorts.get(req.Id)
	port := cached.port
	if !known && ri.keyToProve != "" {
		// The read below would tell an unproved key whether the database
		// exists: prove the key first, the slow way.
		if err := s.proveKey(ctx); err != nil {
			return nil, err
		}
	}
	if !known {
		// The first reset of this database in this process reads its port.
		d, err := s.store.Database(ctx, owner, req.Id)
		if devapi.ErrorCode(err) == devapi.ENOTFOUND {
			return genserver.ResetPassword404JSONResponse{NotFoundJSONResponse: notFound()}, nil
		} else if err != nil {
			return nil, err
		}
		port = d.Port
	}
	s.crash(CrashResetBeforeStore)
	c := devapi.NewCredentials(req.Id, port)
	var d *devapi.Database
	for attempt := 1; ; attempt++ {
		var err error
		if ri.keyToProve != "" {
			d, err = s.store.SetCredentialsAsKey(ctx, owner, ri.keyToProve, req.Id, c)
		} else {
			d, err = s.store.SetCredentials(ctx, owner, req.Id, c)
		}
		// (devapi.ErrorCode allocates, even for nil: asked only on an
		// error.)
		if err != nil {
			if devapi.ErrorCode(err) != devapi.ENOTFOUND {
				return nil, err
			}
			if ri.keyToProve != "" {
				// The database or the key is gone: which one decides
				// between 404 and 401.
				if err := s.proveKey(ctx); err != nil {
					return nil, err
				}
			}
			s.resetPorts.forget(req.Id)
			return genserver.ResetPassword404JSONResponse{NotFoundJSONResponse: notFound()}, nil
		}
		if d.Port == port {
			break
		}
		// The tokens carry a port the database does not have (it was
		// deleted and stored again under its id with another): store
		// tokens for the port it has. A port never changes otherwise.
		if attempt == 2 {
			return nil, fmt.Errorf("server: reset-password: database %s changed its port twice during one reset", req.Id)
		}
		port = d.Port
		c.RestToken, c.ReadOnlyRestToken = devapi.NewRestTokens(req.Id, port, c.Password)
	}
	if !known || port != cached.port {
		cached = resetEntry{port: port, ids: newShortIDs(d.ID)}
		s.resetPorts.put(req.Id, cached)
	}
	s.crash(CrashResetAfterStore)
	// The reset is committed: finish applying it even if the caller gives up.
	pctx, cancel := s.planeContext(ctx)
	defer cancel()
	err := s.plane.SetPassword(pctx, d.ID, d.Password, d.Generation)
	if err != nil {
		if devapi.ErrorCode(err) == devapi.ENOTFOUND {
			if _, gerr := s.store.Database(ctx, owner, req.Id); devapi.ErrorCode(gerr) == devapi.ENOTFOUND {
				return genserver.ResetPassword404JSONResponse{NotFoundJSONResponse: notFound()}, nil // deleted meanwhile
			}
		}
		s.planeDown(ctx, d.ID, stateUnavailable, err)
		return genserver.ResetPassword503JSONResponse{ServiceUnavailableJSONResponse: genserver.ServiceUnavailableJSONResponse{Error: notApplied}}, nil
	}
	if s.health.isDown(d.ID) {
		_ = s.repair(ctx, d) // it took the password: is the rest as stored now?
	}
	s.crash(CrashResetAfterPlane)
	answer := &resetPasswordAnswer{d: d, state: s.health.state(d.ID, d.State), ids: cached.ids}
	s.crash(CrashResetBeforeAnswer)
	return answer, nil
}

// proveKey authenticates the caller of a request whose account came from
// the key cache unchecked (requestInfo.keyToProve) against the store, and
// marks its key proved. An error (EUNAUTHORIZED for a key removed since it
// was cached) is the request's answer.
func (s *Server) proveKey(ctx context.Context) error {
	ri := info(ctx)
	if ri.keyToProve == "" {
		return nil
	}
	if _, err := s.store.Authenticate(ctx, ri.account.Email, ri.keyToProve); err != nil {
		if devapi.ErrorCode(err) == devapi.EUNAUTHORIZED {
			return devapi.Errorf(devapi.EUNAUTHORIZED, "Unauthorized")
		}
		return err
	}
	ri.keyToProve = ""
	return nil
}

// notApplied is reset-password's 503 message.
const notApplied = "the new password is stored, but the database's Redis has not taken it yet: devapi goes on applying it; get the database for its credentials, its state is active again once the Redis took them"

func notFound() genserver.NotFoundJSONResponse {
	return genserver.NotFoundJSONResponse(messageBody("database not found"))
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// maxResetPorts bounds portCache: past it, it starts over.
const maxResetPorts = 100000

// portCache maps database ids to their ports for reset-password, with
// what the answer derives from the id. A database keeps its port for life;
// an entry that outlives its database (deleted through another replica) is
// only ever used for that database's id, and SetCredentials's answer
// corrects it. The zero value is empty and ready.
type portCache struct {
	mu    sync.RWMutex
	ports map[string]resetEntry
}

// resetEntry is what portCache holds for a database.
type resetEntry struct {
	port int
	ids  shortIDs // its cluster_id and pool_id, derived from its id
}

func (c *portCache) get(id string) (resetEntry, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	e, ok := c.ports[id]
	return e, ok
}

func (c *portCache) put(id string, e resetEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ports == nil || len(c.ports) >= maxResetPorts {
		c.ports = make(map[string]resetEntry)
	}
	c.ports[id] = e
}

func (c *portCache) forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.ports, id)
}
