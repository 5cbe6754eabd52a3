package chatflow

import (
	"context"
	"iter"

	"github.com/difykit/chatflow/gen"
	"github.com/difykit/chatflow/internal/paging"
	"github.com/difykit/chatflow/internal/transport"
)

// Annotations yields the app's annotations, page by page (page numbers);
// WithKeyword keeps those matching a keyword, WithPageSize sets the page
// size. A single page is c.API().GetAnnotationListWithResponse.
func (c *Client) Annotations(ctx context.Context, opts ...ListOption) iter.Seq2[Annotation, error] {
	cfg := paging.NewConfig(opts)
	fetch := func(ctx context.Context, page int) ([]Annotation, bool, error) {
		params := &gen.GetAnnotationListParams{Page: &page, Limit: &cfg.PageSize, Keyword: ptr(cfg.Keyword)}
		r, err := transport.DecodeJSON[gen.AnnotationListResponse](c.raw.GetAnnotationList(ctx, params))
		if err != nil {
			return nil, false, err
		}
		return r.Data, r.HasMore, nil
	}
	return paging.Numbered(ctx, 1, fetch, func(a *Annotation) string { return a.ID })
}

// CreateAnnotation adds an annotation and returns it with its id.
func (c *Client) CreateAnnotation(ctx context.Context, question, answer string) (*Annotation, error) {
	return transport.DecodeJSON[Annotation](c.raw.CreateAnnotation(ctx, gen.CreateAnnotationRequest{Question: question, Answer: answer}))
}

// UpdateAnnotation replaces the question and answer of an annotation and
// returns it as it is now.
func (c *Client) UpdateAnnotation(ctx context.Context, annotationID, question, answer string) (*Annotation, error) {
	if err := transport.CheckID("annotation id", annotationID); err != nil {
		return nil, err
	}
	return transport.DecodeJSON[Annotation](c.raw.UpdateAnnotation(ctx, annotationID, gen.UpdateAnnotationRequest{Question: question, Answer: answer}))
}

// DeleteAnnotation deletes an annotation (the server answers 204).
func (c *Client) DeleteAnnotation(ctx context.Context, annotationID string) error {
	if err := transport.CheckID("annotation id", annotationID); err != nil {
		return err
	}
	return transport.CheckSuccess(c.raw.DeleteAnnotation(ctx, annotationID))
}

// EnableAnnotationReply starts the job that turns annotation reply on with
// settings; follow it with AnnotationReplyStatus.
func (c *Client) EnableAnnotationReply(ctx context.Context, settings AnnotationReplySettings) (*AnnotationReplyJob, error) {
	return c.annotationReply(ctx, AnnotationReplyEnable, settings)
}

// DisableAnnotationReply starts the job that turns annotation reply off.
// The server wants the embedding settings here too.
func (c *Client) DisableAnnotationReply(ctx context.Context, settings AnnotationReplySettings) (*AnnotationReplyJob, error) {
	return c.annotationReply(ctx, AnnotationReplyDisable, settings)
}

func (c *Client) annotationReply(ctx context.Context, action AnnotationReplyAction, settings AnnotationReplySettings) (*AnnotationReplyJob, error) {
	r, err := transport.DecodeJSON[gen.InitialAnnotationReplySettingsResponse](c.raw.InitialAnnotationReplySettings(ctx, action, settings))
	if err != nil {
		return nil, err
	}
	return &AnnotationReplyJob{JobID: r.JobID, JobStatus: r.JobStatus}, nil
}

// AnnotationReplyStatus reports the status of an annotation reply job
// started by EnableAnnotationReply or DisableAnnotationReply. An unknown
// job id is a 400 error.
func (c *Client) AnnotationReplyStatus(ctx context.Context, action AnnotationReplyAction, jobID string) (*AnnotationReplyJob, error) {
	if err := transport.CheckID("job id", jobID); err != nil {
		return nil, err
	}
	return transport.DecodeJSON[AnnotationReplyJob](c.raw.GetInitialAnnotationReplySettingsStatus(ctx, gen.GetInitialAnnotationReplySettingsStatusParamsAction(action), jobID))
}
