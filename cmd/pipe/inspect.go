package main

import (
	"bufio"
	"encoding/json"
	"fmt"

	"github.com/pipe-dev/pipe/docio"
	"github.com/pipe-dev/pipe/trainer"
	"github.com/spf13/cobra"
)

func newInspect() *cobra.Command {
	var (
		ckpt, prompt, htmlOut string
		ids, asJSON           bool
		topK, values          int
	)
	c := &cobra.Command{
		Use:   "inspect --ckpt DIR [--prompt TEXT] [--html FILE] [--json]",
		Short: "Show a checkpoint's parameters and, for a prompt, every layer's values",
		Long: `inspect loads a checkpoint (as "pipe sample" does) and prints on stdout the
parameter count of every tensor and their total. Given --prompt, it runs the
model's forward pass over the prompt, the one training runs, and prints what
each layer computes, in model order: the embedding, and in every block the
LayerNorm outputs, queries/keys/values, the attention weights of each head
(a T×T matrix, row t over positions 0..t), the heads' output and projection,
the residual stream, the MLP's hidden layer before and after GELU and its
projection; then the final LayerNorm, the logits and the --top-k most likely
next tokens after each position. Each value is shown with its mean, std, min
and max, and a row per position with the first --values values (0: all).

The prompt is read as "pipe sample" reads it: text with the checkpoint's
tokenizer.json, else token ids separated by spaces; a checkpoint of
"pipe train --task sort" also takes the letters A, B, C (tokens 0, 1, 2) and
shows its tokens so. It may be at most the model's context long.

--html FILE writes the same as one self-contained page (no network: the values
and the script that draws them as heatmaps are inside it). --json prints the
inspection as JSON instead of text, every value in full.`,
		Example: `  pipe inspect --ckpt run1/ckpt-2000
  pipe inspect --ckpt run1/ckpt-2000 --prompt "Light is" --html light.html
  pipe inspect --ckpt sort-run/ckpt-2000 --prompt CABBAC --html sort.html`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			if ckpt == "" {
				return usagef("inspect: --ckpt DIR is required")
			}
			if topK < 1 || values < 0 {
				return usagef("inspect: --top-k must be at least 1 and --values not negative")
			}
			inf, err := loadInference(ckpt, ids, trainer.NewCPU())
			if err != nil {
				return err
			}
			tokens, err := inf.encode(prompt)
			if err != nil {
				return usagef("inspect: %v", err)
			}
			cfg := inf.m.Config
			if len(tokens) > cfg.Context {
				return usagef("inspect: the prompt is %d tokens, the model's context %d", len(tokens), cfg.Context)
			}
			in := trainer.InspectParams(cfg)
			if len(tokens) > 0 {
				if in, err = inf.m.Inspect(tokens, topK, inf.label); err != nil {
					return err
				}
			}
			if htmlOut != "" {
				out, err := docio.Create(htmlOut)
				if err != nil {
					return err
				}
				defer out.Abort()
				if err := in.WriteHTML(out, ckpt); err != nil {
					return err
				}
				if err := out.Close(); err != nil {
					return err
				}
			}
			w := bufio.NewWriter(c.OutOrStdout())
			if asJSON {
				enc := json.NewEncoder(w)
				if err := enc.Encode(in); err != nil {
					return fmt.Errorf("inspect: %w", err)
				}
			} else if err := in.WriteText(w, values); err != nil {
				return err
			}
			return w.Flush()
		},
	}
	f := c.Flags()
	f.StringVar(&ckpt, "ckpt", "", "checkpoint directory")
	f.StringVar(&prompt, "prompt", "", "text to run through the model (token ids with --ids)")
	f.BoolVar(&ids, "ids", false, "the prompt as token ids, even where the checkpoint has a tokenizer")
	f.StringVar(&htmlOut, "html", "", "also write a self-contained HTML page with heatmaps to this file")
	f.BoolVar(&asJSON, "json", false, "print JSON instead of text")
	f.IntVar(&topK, "top-k", 5, "next tokens to show after each position")
	f.IntVar(&values, "values", 8, "values to print of each row (0: all)")
	return c
}
