"""The worked-solution report: Markdown, LaTeX and PDF with figures."""
