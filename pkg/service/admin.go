package service

import (
	"errors"
	"strings"

	"go.uber.org/zap"

	"github.com/streamlrs/streamlrs/pkg/admin"
	"github.com/streamlrs/streamlrs/pkg/ingest"
)

// adminPrefix is where the admin API lives on the xAPI listener.
const adminPrefix = "/admin"

// mountAdmin serves the admin API (tenants, credentials) under /admin on the
// ingest server when an admin token is configured; without one it does not
// exist. A credential changed through it is forgotten by this instance at
// once (changed); other instances see it within the auth cache ttl. It
// returns the admin service, for the console; nil without a token.
func mountAdmin(srv *ingest.Server, st admin.Store, cfg IngestConfig, e env, changed func(key string)) (*admin.Service, error) {
	if cfg.AdminToken == "" {
		e.log.Info("admin API and console disabled: set LRS_ADMIN_TOKEN to enable them")
		return nil, nil
	}
	// The xAPI group answers every path under its prefix (404 included):
	// the admin routes must not fall under it.
	if cfg.Prefix == "" || cfg.Prefix == adminPrefix || strings.HasPrefix(cfg.Prefix, adminPrefix+"/") {
		return nil, errors.New("the admin API needs an xapi-prefix other than \"\" and " + adminPrefix)
	}
	svc, err := admin.NewService(st, changed)
	if err != nil {
		return nil, err
	}
	api, err := admin.NewAPI(svc, cfg.AdminToken, e.log.Named("admin"))
	if err != nil {
		return nil, err
	}
	api.Register(srv.OpsApp(), adminPrefix)
	e.log.Info("admin API enabled", zap.String("prefix", adminPrefix))
	return svc, nil
}
