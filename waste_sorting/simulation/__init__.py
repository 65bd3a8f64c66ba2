"""Belt simulation: item cut-outs, belt texture, rendered frames and ground truth."""
