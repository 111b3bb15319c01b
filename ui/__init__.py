"""The browser UI of newsqa (Gradio); ``rag`` never imports it."""
