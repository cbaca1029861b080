// Command authorizer is the Lambda REQUEST/TOKEN authorizer for API Gateway. It
// only wires the core together; see internal/authorizer.
//
// Build it with:
//
//	CGO_ENABLED=0 GOOS=linux go build -tags lambda.norpc -trimpath -ldflags='-s -w' -o bootstrap ./cmd/authorizer
package main

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/apigw-authz/authz/internal/authorizer"
	"github.com/apigw-authz/authz/internal/config"
	"github.com/apigw-authz/authz/internal/logging"
)

// The authorizer answers the Lambda runtime directly, bytes in and out.
var _ lambda.Handler = (*authorizer.Authorizer)(nil)

// warmTimeout bounds how long start-up waits for the identity providers.
const warmTimeout = 3 * time.Second

// flushTimeout bounds the upload of the decision-log events left at
// shutdown: Lambda gives a function with an internal extension 500 ms
// between SIGTERM and SIGKILL.
const flushTimeout = 400 * time.Millisecond

func main() {
	a := setup(context.Background())
	var opts []lambda.Option
	if a.UploadsDecisions() {
		// Registering an (internal) extension is what makes Lambda send
		// SIGTERM before it shuts the function down: the events still
		// buffered are uploaded then, instead of lost.
		opts = append(opts, lambda.WithEnableSIGTERM(func() {
			ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
			defer cancel()
			if err := a.Close(ctx); err != nil {
				slog.Error("decision-log events left unsent at shutdown", "error", err.Error())
				return
			}
			slog.Info("decision-log events uploaded at shutdown")
		}))
	}
	lambda.StartWithOptions(a, opts...) // a is a lambda.Handler: Invoke, no reflection
}

// setup builds the authorizer from the environment. A configuration error does
// not stop the function: it is logged once here, naming the variable, and every
// request is denied (403) with reason config_error. An exit at init would make
// API Gateway answer 500 instead.
func setup(ctx context.Context) *authorizer.Authorizer {
	cfg, err := config.FromEnv(os.Getenv, false)
	log := logging.JSON(os.Stdout, cfg.LogLevel)
	// What aws-lambda-go prints (each error the handler returns) must be JSON too.
	logging.RouteStandardLog(log)
	if err != nil {
		log.Error("configuration error: every request will be denied", "error", err.Error())
		return authorizer.BrokenConfig(err, cfg, log)
	}
	a, err := authorizer.Build(ctx, cfg, log)
	if err != nil {
		log.Error("configuration error: every request will be denied", "error", err.Error())
		return authorizer.BrokenConfig(err, cfg, log)
	}
	wctx, cancel := context.WithTimeout(ctx, warmTimeout)
	defer cancel()
	if err := a.Warm(wctx); err != nil {
		log.Warn("identity provider not reachable at start-up; retrying on use", "error", err.Error())
	}
	log.Info("authorizer ready",
		"policy_revision", a.Revision(),
		"query", cfg.Query,
		"issuers", len(cfg.Issuers),
		"token_sources", cfg.TokenSources.String(),
		"http_simple_responses", cfg.SimpleResponses,
	)
	return a
}
