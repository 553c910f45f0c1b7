"""Channel adapters: each turns its platform's updates into services.inbound calls and renders
what comes back (handlers.telegram; handlers.plain is the renderer for channels without
buttons). Nothing below this package imports a platform library."""
