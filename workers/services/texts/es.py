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
    "cmd.help.usage": "`ayuda [comando]` (`help`)",
    "cmd.help.summary": "esta lista, o cómo se usa un comando",
    "cmd.help.detail": "lista lo que sé hacer; con un comando, explica ese comando.",
    "cmd.help.example": "`ayuda busca`",
    "cmd.ping.usage": "`ve` (`ping`)",
    "cmd.ping.summary": "comprueba que el bot está vivo y cuánto tarda",
    "cmd.ping.detail": "responde con el worker que lo atendió y cuánto esperó tu petición en la cola.",
    "cmd.ping.example": "`ve`",
    "cmd.next.usage": "`siguiente` (`next`)",
    "cmd.next.summary": "el próximo evento de la agenda",
    "cmd.next.detail": "muestra el evento de la agenda que empieza antes, con la fecha en tu zona horaria y un enlace.",
    "cmd.next.example": "`siguiente`",
    "cmd.search.usage": "`busca <texto>` (`search <text>`)",
    "cmd.search.summary": "eventos de la agenda cuyo título contiene el texto",
    "cmd.search.detail": "busca eventos cuyo título contiene el texto (sin importar mayúsculas ni acentos); "
    "primero los próximos, luego los pasados (marcados). *Siguientes* y *Anteriores* pasan de página; "
    "*Compartir* muestra a todos una página que solo ves tú.",
    "cmd.search.example": "`busca python`",
    "cmd.count.usage": "`cuenta [@usuario]` (`count [@user]`)",
    "cmd.count.summary": "cuántos mensajes ha escrito alguien aquí",
    "cmd.count.detail": "cuenta los mensajes que alguien escribió en este espacio de trabajo: los tuyos, "
    "o los de la persona que menciones.",
    "cmd.count.example": "`cuenta @alicia`",
    "cmd.stats.usage": "`estadísticas` (`stats`)",
    "cmd.stats.summary": "los comandos más usados",
    "cmd.stats.detail": "lista los comandos más usados en este espacio de trabajo.",
    "cmd.stats.example": "`estadísticas`",
    # ve
    "ping.pong": "Por lo pronto vas bien (worker {worker}, {delay_ms} ms en la cola)",
    # fechas (no strftime: sus nombres siguen el locale de la máquina)
    "date.weekdays": "lun,mar,mié,jue,vie,sáb,dom",
    "date.months": "ene,feb,mar,abr,may,jun,jul,ago,sep,oct,nov,dic",
    # agenda
    "agenda.empty": "La agenda está vacía por ahora.",
    "agenda.details": "detalles",
    "agenda.past": "(pasado)",
    "agenda.time_note": "Las horas se muestran en tu zona horaria.",
    "next.none": "No hay ningún evento próximo en la agenda.",
    "next.item": "El siguiente evento es {item}",
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
    "count.other.one": "<@{user}> ha escrito {count} mensaje aquí.",
    "count.other.many": "<@{user}> ha escrito {count} mensajes aquí.",
    "count.not_a_mention": "Entendí `{arg}` como texto, no como una mención, así que no sé quién es. "
    "Menciona a la persona: `cuenta @{arg}` (elígela de la lista que Slack muestra al escribir).",
    # estadisticas
    "stats.none": "Todavía no se ha usado ningún comando.",
    "stats.header": "Comandos más usados:",
    "stats.line.one": "{rank}. `{name}`: {uses} uso",
    "stats.line.many": "{rank}. `{name}`: {uses} usos",
}
