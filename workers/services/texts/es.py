"""Spanish texts: the voice of the original bot (charlandero) where it had one."""

TEXTS: dict[str, str] = {
    # pestaña de inicio
    "home.title": "charla",
    "home.commands": "*Lo que sé hacer* (mencióname, escríbeme por mensaje directo o usa `/charla <comando>`):",
    "home.agenda": "*Próximamente*",
    # fallo
    "failure.notice": "Lo siento, esta vez no pude responderte. Prueba otra vez dentro de un rato.",
    # ayuda
    "help.header": "Comandos (mencióname, escríbeme por mensaje directo o usa `/charla <comando>`):",
    "help.unknown": "No te entiendo (`{word}`). Prueba uno de estos:",
    "help.footer": "`ayuda <comando>` explica uno, con un ejemplo.",
    "help.one": "{usage}: {detail}\nEjemplo: {example}",
    "help.no_such_topic": "No tengo ningún comando `{word}`.",
    "help.did_you_mean": "¿Quisiste decir `{command}`?",
    "talk.greeting": "¡Hola! Soy charla: escribe `ayuda` para ver qué sé hacer.",
    "talk.thanks": "¡De nada!",
    # fechas (no strftime: sus nombres siguen el locale de la máquina)
    "date.weekdays": "lun,mar,mié,jue,vie,sáb,dom",
    "date.months": "ene,feb,mar,abr,may,jun,jul,ago,sep,oct,nov,dic",
    # agenda
    "agenda.empty": "La agenda está vacía por ahora.",
    "agenda.details": "detalles",
    "agenda.past": "(pasado)",
    "agenda.time_note": "Las horas se muestran en tu zona horaria.",
    "next.none": "No hay ningún evento próximo en la agenda.",
    "search.ask": "¿Qué busco? Escribe `busca <texto>`, por ejemplo `busca python`.",
    "search.none": "Lo siento: no hay ningún evento con “{query}”.",
    "search.header.one": "1 evento de la agenda coincide con “{query}”:",
    "search.header.many": "{count} eventos de la agenda coinciden con “{query}”:",
    "search.page": "Mostrando {first}-{last} de {count}.",
    "search.and_more": "…y {more} más.",
    "search.more_button": "Siguientes",
    "search.previous_button": "Anteriores",
    "search.share_button": "Compartir",
    "search.no_more": "No hay más resultados con “{query}”.",
    # cuenta
    "count.self.one": "Has escrito {count} mensaje aquí.",
    "count.self.many": "Has escrito {count} mensajes aquí.",
    # estadisticas
    "stats.none": "Todavía no se ha usado ningún comando.",
    "stats.header": "Comandos más usados:",
    "stats.line.one": "{rank}. `{name}`: {uses} uso",
    "stats.line.many": "{rank}. `{name}`: {uses} usos",
}
