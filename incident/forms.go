package incident

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/slack-go/slack"

	"github.com/opsbot-dev/opsbot/chat"
	"github.com/opsbot-dev/opsbot/config"
	"github.com/opsbot-dev/opsbot/store"
)

// The fields of the incident forms, by block ID.
const (
	fieldTitle          = "title"
	fieldSeverity       = "severity"
	fieldDescription    = "description"
	fieldComponents     = "components"
	fieldCustomerFacing = "customer_facing"
	fieldStatus         = "status"
	fieldMessage        = "message"
	fieldUser           = "user"
	fieldService        = "service"
	fieldSummary        = "summary"
)

// declareMetadata is what the declare form carries to its submission.
type declareMetadata struct {
	Origin string `json:"origin"` // the channel the command was typed in
	Drill  bool   `json:"drill,omitempty"`
}

// PromptDeclare opens the declare form: title, severity, description, affected components and
// whether customers are affected. severity (0: none given) and drill come from the command.
func (s *Service) PromptDeclare(ctx context.Context, who chat.Actor, triggerID string, severity int, drill bool) (chat.Message, error) {
	if err := s.mayDeclare(ctx, who); err != nil {
		return chat.Message{}, err
	}
	if triggerID == "" {
		return chat.Message{}, chat.Refuse("Give the incident a title, e.g. /incident declare sev2 Checkout errors.")
	}
	if severity == 0 {
		severity = defaultSeverity
	}
	var sevOptions []*slack.OptionBlockObject
	for i, name := range config.SeverityNames {
		rule := s.cfg.Severity(i + 1)
		sevOptions = append(sevOptions, slack.NewOptionBlockObject(name, chat.Plain(sevLabel(i+1)), chat.Plain(describeRule(rule))))
	}
	sevSelect := slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, chat.Plain("Severity"), fieldSeverity, sevOptions...)
	sevSelect.InitialOption = sevOptions[severity-1]
	description := slack.NewPlainTextInputBlockElement(chat.Plain("What do people see? What is known?"), fieldDescription)
	description.Multiline = true

	blocks := []slack.Block{
		slack.NewInputBlock(fieldTitle, chat.Plain("Title"), nil, slack.NewPlainTextInputBlockElement(chat.Plain("e.g. Checkout errors"), fieldTitle)),
		slack.NewInputBlock(fieldSeverity, chat.Plain("Severity"), nil, sevSelect),
		optional(slack.NewInputBlock(fieldDescription, chat.Plain("Description"), nil, description)),
	}
	if components := s.pageComponents(ctx); len(components) > 0 {
		var options, initial []*slack.OptionBlockObject
		for _, c := range components {
			o := slack.NewOptionBlockObject(c.ID, chat.Plain(c.Name), nil)
			options = append(options, o)
			for _, configured := range s.cfg.Statuspage.Components {
				if configured == c.ID {
					initial = append(initial, o)
				}
			}
		}
		sel := slack.NewOptionsMultiSelectBlockElement(slack.MultiOptTypeStatic, chat.Plain("Components"), fieldComponents, options...)
		sel.InitialOptions = initial
		blocks = append(blocks, optional(slack.NewInputBlock(fieldComponents, chat.Plain("Affected status page components"), nil, sel)))
	}
	yes := slack.NewOptionBlockObject("yes", chat.Plain("Yes — customers notice it"), nil)
	no := slack.NewOptionBlockObject("no", chat.Plain("No — internal only"), nil)
	facing := slack.NewRadioButtonsBlockElement(fieldCustomerFacing, yes, no)
	facing.InitialOption = yes
	blocks = append(blocks, slack.NewInputBlock(fieldCustomerFacing, chat.Plain("Customer-facing?"), nil, facing))

	meta, err := json.Marshal(declareMetadata{Origin: who.ChannelID, Drill: drill})
	if err != nil {
		return chat.Message{}, err
	}
	title := "Declare an incident"
	if drill {
		title = "Declare a drill"
	}
	return chat.Message{}, s.openModal(ctx, triggerID, viewDeclare, string(meta), title, "Declare", blocks)
}

// describeRule says in a few words what declaring a severity does.
func describeRule(sev *config.Severity) string {
	pages := "no paging"
	if sev.Pages() {
		pages = "pages the on-call"
	}
	return clip(fmt.Sprintf("%s · status page %s", pages, sev.StatusPage), 75)
}

// pageComponents lists the status page's components for the form ("" when it cannot be read).
func (s *Service) pageComponents(ctx context.Context) []component {
	if s.opts.Statuspage == nil {
		return nil
	}
	list, err := s.opts.Statuspage.Components(ctx)
	if err != nil {
		s.log.Warn().Err(err).Msg("reading the status page's components for the declare form failed")
		return nil
	}
	out := make([]component, len(list))
	for i, c := range list {
		out[i] = component{ID: c.ID, Name: c.Name}
	}
	return out
}

// PromptUpdate opens the form for a status update.
func (s *Service) PromptUpdate(ctx context.Context, who chat.Actor, runID int64, triggerID string) (chat.Message, error) {
	_, d, err := s.openIncident(ctx, runID)
	if err != nil {
		return chat.Message{}, err
	}
	if err := s.mayRespond(ctx, who, d, "post updates on"); err != nil {
		return chat.Message{}, err
	}
	var options []*slack.OptionBlockObject
	var initial *slack.OptionBlockObject
	for _, phase := range []string{phaseInvestigating, phaseIdentified, phaseMonitoring} {
		o := slack.NewOptionBlockObject(phase, chat.Plain(titleCase(phase)), nil)
		options = append(options, o)
		if phase == d.Phase {
			initial = o
		}
	}
	status := slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, chat.Plain("Status"), fieldStatus, options...)
	status.InitialOption = initial
	message := slack.NewPlainTextInputBlockElement(chat.Plain("What is known, what is being done"), fieldMessage)
	message.Multiline = true
	blocks := []slack.Block{
		slack.NewContextBlock("", chat.Mrkdwn(incidentName(d)+" — "+s.whatHappensNext(d))),
		slack.NewInputBlock(fieldStatus, chat.Plain("Status"), nil, status),
		slack.NewInputBlock(fieldMessage, chat.Plain("Update"), nil, message),
	}
	return chat.Message{}, s.openModal(ctx, triggerID, viewUpdate, fmt.Sprint(runID), "Post an update", "Post", blocks)
}

// PromptPage opens the form for paging someone.
func (s *Service) PromptPage(ctx context.Context, who chat.Actor, runID int64, triggerID string) (chat.Message, error) {
	_, d, err := s.openIncident(ctx, runID)
	if err != nil {
		return chat.Message{}, err
	}
	if err := s.mayRespond(ctx, who, d, "page people for"); err != nil {
		return chat.Message{}, err
	}
	blocks := []slack.Block{
		optional(slack.NewInputBlock(fieldUser, chat.Plain("Person"), nil, slack.NewOptionsSelectBlockElement(slack.OptTypeUser, chat.Plain("Someone"), fieldUser))),
	}
	if services := sortedKeys(s.cfg.PagerDuty.Services); len(services) > 0 {
		var options []*slack.OptionBlockObject
		for _, name := range services {
			options = append(options, slack.NewOptionBlockObject(name, chat.Plain(name), nil))
		}
		blocks = append(blocks, optional(slack.NewInputBlock(fieldService, chat.Plain("Or the on-call of a service"), nil,
			slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, chat.Plain("Service"), fieldService, options...))))
	}
	return chat.Message{}, s.openModal(ctx, triggerID, viewPage, fmt.Sprint(runID), "Page someone", "Page", blocks)
}

// PromptResolve opens the form for resolving the incident with a summary.
func (s *Service) PromptResolve(ctx context.Context, who chat.Actor, runID int64, triggerID string) (chat.Message, error) {
	_, d, err := s.openIncident(ctx, runID)
	if err != nil {
		return chat.Message{}, err
	}
	if err := s.mayLead(ctx, who, d, "resolve"); err != nil {
		return chat.Message{}, err
	}
	summary := slack.NewPlainTextInputBlockElement(chat.Plain("What fixed it? (the status page shows this)"), fieldSummary)
	summary.Multiline = true
	blocks := []slack.Block{
		slack.NewSectionBlock(chat.Mrkdwn(fmt.Sprintf("Resolve *%s*? PagerDuty and the status page are resolved and the stakeholders told.", incidentName(d))), nil, nil),
		optional(slack.NewInputBlock(fieldSummary, chat.Plain("Summary"), nil, summary)),
	}
	return chat.Message{}, s.openModal(ctx, triggerID, viewResolve, fmt.Sprint(runID), "Resolve incident", "Resolve", blocks)
}

func optional(b *slack.InputBlock) *slack.InputBlock {
	b.Optional = true
	return b
}

func (s *Service) openModal(ctx context.Context, triggerID, callbackID, metadata, title, submit string, blocks []slack.Block) error {
	_, err := s.opts.Slack.OpenModal(ctx, triggerID, slack.ModalViewRequest{
		Type: slack.VTModal, CallbackID: callbackID, PrivateMetadata: metadata,
		Title: chat.Plain(title), Submit: chat.Plain(submit), Close: chat.Plain("Cancel"),
		Blocks: slack.Blocks{BlockSet: blocks},
	})
	return err
}

// openIncident reads an incident that is not resolved yet.
func (s *Service) openIncident(ctx context.Context, runID int64) (store.Run, record, error) {
	run, err := s.opts.Store.GetRun(ctx, runID)
	if errors.Is(err, store.ErrNotFound) || err == nil && run.Kind != store.KindIncident {
		return run, record{}, chat.Refuse("That incident does not exist.")
	}
	if err != nil {
		return run, record{}, fmt.Errorf("reading incident %d: %w", runID, err)
	}
	d, err := decodeData(run)
	if err != nil {
		return run, d, err
	}
	if run.State.Final() || d.Resolution != nil {
		return run, d, chat.Refuse("%s is resolved.", incidentName(d))
	}
	return run, d, nil
}

// Click handles the buttons on the incident's messages. value names the run (and an item);
// it is only a pointer: the run is re-read and the person authorised against it.
func (s *Service) Click(ctx context.Context, who chat.Actor, actionID, value, triggerID string) (chat.Message, error) {
	id, item, _ := strings.Cut(value, ":")
	runID, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return chat.Message{}, chat.Refuse("That button is not one of mine.")
	}
	switch actionID {
	case actionUpdate:
		return s.PromptUpdate(ctx, who, runID, triggerID)
	case actionPage:
		return s.PromptPage(ctx, who, runID, triggerID)
	case actionResolve:
		return s.PromptResolve(ctx, who, runID, triggerID)
	case actionDeploys:
		return s.RecentDeploys(ctx, runID)
	case actionSnooze:
		return s.Snooze(ctx, who, runID)
	case actionCheck:
		return s.Tick(ctx, who, runID, item)
	case actionPublish:
		seq, err := strconv.Atoi(item)
		if err != nil {
			return chat.Message{}, chat.Refuse("That button is not one of mine.")
		}
		return s.Publish(ctx, who, runID, seq)
	}
	return chat.Message{}, chat.Refuse("That button is not one of mine.")
}

// Form is a submitted incident form: its callback ID, private metadata, and what was entered
// by block ID, made safe to post by the caller (commands.Sanitize).
type Form struct {
	CallbackID string
	Metadata   string
	Values     map[string]string
}

// Submit handles a submitted incident form. The reply goes to the incident's channel (or, for
// a declaration, where the command was typed).
func (s *Service) Submit(ctx context.Context, who chat.Actor, f Form) (chat.Message, error) {
	if f.CallbackID == viewDeclare {
		var meta declareMetadata
		if err := json.Unmarshal([]byte(f.Metadata), &meta); err != nil {
			return chat.Message{}, chat.Refuse("That form is not one of mine.")
		}
		who.ChannelID = meta.Origin
		msg, err := s.Declare(ctx, who, declarationFrom(f.Values, meta.Drill))
		msg.Channel = meta.Origin
		return msg, err
	}
	runID, err := strconv.ParseInt(f.Metadata, 10, 64)
	if err != nil {
		return chat.Message{}, chat.Refuse("That form is not one of mine.")
	}
	run, err := s.opts.Store.GetRun(ctx, runID)
	if err != nil || run.Kind != store.KindIncident {
		return chat.Message{}, chat.Refuse("That incident does not exist.")
	}
	who.ChannelID = run.Channel
	var msg chat.Message
	switch f.CallbackID {
	case viewUpdate:
		msg, err = s.Update(ctx, who, runID, f.Values[fieldStatus], f.Values[fieldMessage])
	case viewPage:
		msg, err = s.Page(ctx, who, runID, f.Values[fieldUser], f.Values[fieldService])
	case viewResolve:
		msg, err = s.Resolve(ctx, who, runID, f.Values[fieldSummary])
	default:
		err = chat.Refuse("That form is not one of mine.")
	}
	msg.Channel = run.Channel
	return msg, err
}

// declarationFrom reads the declare form.
func declarationFrom(values map[string]string, drill bool) Declaration {
	decl := Declaration{Title: values[fieldTitle], Description: values[fieldDescription], Drill: drill, Components: []string{}}
	if n, err := strconv.Atoi(strings.TrimPrefix(values[fieldSeverity], "sev")); err == nil {
		decl.Severity = n
	}
	for _, id := range strings.Split(values[fieldComponents], ",") {
		if id = strings.TrimSpace(id); id != "" {
			decl.Components = append(decl.Components, id)
		}
	}
	if v, ok := values[fieldCustomerFacing]; ok {
		facing := v == "yes"
		decl.CustomerFacing = &facing
	}
	return decl
}
