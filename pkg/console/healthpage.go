package console

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"go.uber.org/zap"
)

// deadLettersShown bounds the dead letters read per partition of the
// dead-letter topic, newest first.
const deadLettersShown = 100

type healthData struct {
	Lags        []groupLag
	LagErr      string
	Buckets     []time.Time
	Rates       []rateRow
	Dead        []deadLetter
	DeadErr     string
	DeadTopic   string
	Filter      deadLetterFilter
	Groups      []string
	GeneratedAt time.Time
}

func (c *Console) healthData(ctx *fiber.Ctx) healthData {
	now := time.Now()
	d := healthData{Filter: deadLetterFilter{Group: ctx.Query("group"), Reason: ctx.Query("reason"), Tenant: ctx.Query("tenant")},
		DeadTopic: c.d.Kafka.dlqTopic(), GeneratedAt: now.UTC()}
	var err error
	if d.Lags, err = c.d.Kafka.lags(ctx.UserContext(), now); err != nil {
		d.LagErr = err.Error()
	}
	d.Buckets, d.Rates = c.samples.rates(12, now)
	all, err := c.d.Kafka.deadLetters(ctx.UserContext(), deadLettersShown)
	if err != nil {
		d.DeadErr = err.Error()
	}
	seen := map[string]bool{}
	for _, dl := range all {
		if !seen[dl.Group] {
			seen[dl.Group] = true
			d.Groups = append(d.Groups, dl.Group)
		}
		if d.Filter.match(dl) {
			d.Dead = append(d.Dead, dl)
		}
	}
	return d
}

func (c *Console) health(ctx *fiber.Ctx) error {
	return c.render(ctx, http.StatusOK, "health", page{Title: "Pipeline health", Nav: "health", Data: c.healthData(ctx)})
}

// healthPanel is the page's body alone, which htmx fetches to refresh it.
func (c *Console) healthPanel(ctx *fiber.Ctx) error {
	return c.execute(ctx, http.StatusOK, "health", "panel", page{Data: c.healthData(ctx)})
}

func (c *Console) resend(ctx *fiber.Ctx) error {
	p, err1 := strconv.ParseInt(ctx.FormValue("partition"), 10, 32)
	o, err2 := strconv.ParseInt(ctx.FormValue("offset"), 10, 64)
	if err1 != nil || err2 != nil || p < 0 || o < 0 {
		return c.fail(ctx, http.StatusBadRequest, "re-send needs the dead letter's partition and offset")
	}
	d, err := c.d.Kafka.resend(ctx.UserContext(), int32(p), o)
	if err != nil {
		return c.failErr(ctx, err)
	}
	c.log.Info("dead letter re-sent from the console", zap.Int64("partition", p), zap.Int64("offset", o),
		zap.String("group", d.Group), zap.String("tenant", d.Tenant), zap.Int("statements", len(d.StatementIDs)))
	return c.render(ctx, http.StatusOK, "health", page{Title: "Pipeline health", Nav: "health",
		Notice: "Re-sent " + strconv.Itoa(len(d.StatementIDs)) + " statement(s) of tenant " + d.Tenant + " to " + d.Source + ".", Data: c.healthData(ctx)})
}
