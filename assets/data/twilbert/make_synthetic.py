#!/usr/bin/env python3
"""Writes the SYNTHETIC TWilBERT-format files in this folder (see README.md).

Every text is generated here from hand-written Spanish templates; nothing is a real tweet.
Deterministic: python3 make_synthetic.py rewrites pairs.tsv, stance_train.tsv, stance_dev.tsv.
"""
import random

rng = random.Random(20240601)

TOPICS = [
    ("el carril bici", "los carriles bici"),
    ("la subida del billete de metro", "el precio del metro"),
    ("el cambio de hora", "el horario de verano"),
    ("la peatonalización del centro", "el centro sin coches"),
    ("el teletrabajo", "trabajar desde casa"),
    ("las placas solares en los tejados", "la energía solar"),
    ("la subida de las tasas universitarias", "las matrículas"),
    ("el reciclaje obligatorio", "separar la basura"),
    ("la nueva biblioteca del barrio", "la biblioteca"),
    ("la jornada de cuatro días", "trabajar cuatro días"),
    ("el toque de queda para los bares", "el cierre de los bares"),
    ("los patinetes eléctricos", "los patinetes"),
]
USERS = ["@lucia_gm", "@pablo_rr", "@marta88", "@jorge_tw", "@ana_sol", "@dani_bcn", "@sara_vlc", "@toni_mad", "@elena_zgz", "@raul_sev"]

ORIG = [
    "¿Qué opináis de {t}? Hoy lo han aprobado en el pleno",
    "Acabo de leer que {t} empieza el mes que viene",
    "Nadie habla de {t} y debería ser el tema del día",
    "Encuesta rápida: ¿a favor o en contra de {t}?",
    "Hilo sobre {t} y lo que va a cambiar en la ciudad",
    "Mañana se vota {t}, ojo a lo que pase",
    "Llevo una semana pensando en {t} y no lo tengo claro",
    "Última hora: el ayuntamiento anuncia {t}",
]
REPLY = [
    "{u} totalmente de acuerdo contigo, {t2} ya tocaba",
    "{u} pues yo no lo veo nada claro, {t2} va a salir caro",
    "{u} jajaja ya estamos otra vez con {t2}",
    "{u} gracias por el hilo, no sabía nada de {t2}",
    "{u} ¿de dónde sacas eso? Yo he leído otra cosa sobre {t2}",
    "{u} en mi barrio nadie quiere {t2}, te lo aseguro",
    "{u} a mí me parece bien, pero {t2} necesita más tiempo",
    "{u} respondiendo a tu pregunta: a favor, sin dudarlo",
    "{u} lo mismo dijeron el año pasado y mira",
    "{u} exacto, es lo que llevo diciendo semanas",
]

def fix(text):
    """Spanish contractions: 'de el' -> 'del', 'a el' -> 'al'."""
    return text.replace(" de el ", " del ").replace(" a el ", " al ")


def pairs(n):
    out = ["ORIG_ID\tORIG_TEXT\tREPLY_ID\tREPLY_TEXT"]
    for i in range(n):
        t, t2 = rng.choice(TOPICS)
        o = rng.choice(ORIG).format(t=t)
        r = rng.choice(REPLY).format(u=rng.choice(USERS), t2=t2)
        out.append(f"{1000 + 2 * i}\t{fix(o)}\t{1001 + 2 * i}\t{fix(r)}")
    return out

FAVOR = [
    "Apoyo {t}, por fin una buena noticia para la ciudad",
    "Estoy a favor de {t}, hay que seguir por este camino",
    "Me encanta {t}, ojalá lo hubieran hecho antes",
    "{T} es justo lo que necesitábamos, bravo",
    "Defiendo {t} sin dudarlo, es una gran mejora",
    "Por fin {t}, un acierto total del ayuntamiento",
    "Qué ganas de ver {t} funcionando, muy buena idea",
]
AGAINST = [
    "Estoy en contra de {t}, es un desastre",
    "Rechazo {t}, nadie lo ha pedido",
    "{T} es un error enorme y lo vamos a pagar todos",
    "No quiero {t}, que lo retiren ya",
    "Qué vergüenza {t}, una idea pésima",
    "Me opongo a {t}, solo trae problemas",
    "Basta ya de {t}, es un despropósito",
]
NONE = [
    "Hoy se debate {t} en el pleno municipal",
    "El periódico publica un reportaje sobre {t}",
    "¿Alguien sabe a qué hora hablan de {t} en la radio?",
    "Mañana hay una charla informativa sobre {t}",
    "Leyendo el informe técnico sobre {t}",
    "La asociación de vecinos pregunta por {t}",
]

def stance(n, start):
    rows = ["ID\tTEXT\tCLASS"]
    for i in range(n):
        t, _ = rng.choice(TOPICS)
        u = rng.random()
        cls, tpl = ("FAVOR", FAVOR) if u < 0.45 else ("AGAINST", AGAINST) if u < 0.80 else ("NONE", NONE)
        text = rng.choice(tpl).format(t=t, T=t[0].upper() + t[1:])
        if rng.random() < 0.3:
            text = rng.choice(USERS) + " " + text
        if rng.random() < 0.2:
            text += " #" + rng.choice(["ciudad", "pleno", "vecinos", "debate"])
        rows.append(f"{start + i}\t{fix(text)}\t{cls}")
    return rows

with open("pairs.tsv", "w", encoding="utf-8") as f:
    f.write("\n".join(pairs(240)) + "\n")
with open("stance_train.tsv", "w", encoding="utf-8") as f:
    f.write("\n".join(stance(200, 1)) + "\n")
with open("stance_dev.tsv", "w", encoding="utf-8") as f:
    f.write("\n".join(stance(80, 5001)) + "\n")
