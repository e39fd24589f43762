"""Category tables of the built-in datasets: original id, thing flag, colour and name.

Each table is a text block with one category per line, ``<id> <is_thing> <r,g,b> <name>``, parsed
once at import into :class:`Category` tuples. Contiguous training ids are the line order (the
categories sorted by their original id), as in detectron2's registration of these datasets.
Cityscapes categories come from ``cityscapesscripts.helpers.labels`` instead (see ``cityscapes.py``).
"""
from __future__ import annotations

from typing import NamedTuple


class Category(NamedTuple):
    """One dataset category: original id, thing flag, RGB colour and name."""

    id: int
    is_thing: bool
    color: tuple[int, int, int]
    name: str


def parse_categories(text: str) -> tuple[Category, ...]:
    """Parse ``<id> <is_thing> <r,g,b> <name>`` lines into categories, in line order."""
    categories = []
    for line in text.strip().splitlines():
        cat_id, is_thing, color, name = line.split(" ", 3)
        rgb = tuple(int(v) for v in color.split(","))
        categories.append(Category(int(cat_id), is_thing == "1", rgb, name))  # type: ignore[arg-type]
    return tuple(categories)


# COCO panoptic (133 = 80 things + 53 stuff); colours of the panopticapi category file.
COCO_PANOPTIC_CATEGORIES = parse_categories(
    """
1 1 220,20,60 person
2 1 119,11,32 bicycle
3 1 0,0,142 car
4 1 0,0,230 motorcycle
5 1 106,0,228 airplane
6 1 0,60,100 bus
7 1 0,80,100 train
8 1 0,0,70 truck
9 1 0,0,192 boat
10 1 250,170,30 traffic light
11 1 100,170,30 fire hydrant
13 1 220,220,0 stop sign
14 1 175,116,175 parking meter
15 1 250,0,30 bench
16 1 165,42,42 bird
17 1 255,77,255 cat
18 1 0,226,252 dog
19 1 182,182,255 horse
20 1 0,82,0 sheep
21 1 120,166,157 cow
22 1 110,76,0 elephant
23 1 174,57,255 bear
24 1 199,100,0 zebra
25 1 72,0,118 giraffe
27 1 255,179,240 backpack
28 1 0,125,92 umbrella
31 1 209,0,151 handbag
32 1 188,208,182 tie
33 1 0,220,176 suitcase
34 1 255,99,164 frisbee
35 1 92,0,73 skis
36 1 133,129,255 snowboard
37 1 78,180,255 sports ball
38 1 0,228,0 kite
39 1 174,255,243 baseball bat
40 1 45,89,255 baseball glove
41 1 134,134,103 skateboard
42 1 145,148,174 surfboard
43 1 255,208,186 tennis racket
44 1 197,226,255 bottle
46 1 171,134,1 wine glass
47 1 109,63,54 cup
48 1 207,138,255 fork
49 1 151,0,95 knife
50 1 9,80,61 spoon
51 1 84,105,51 bowl
52 1 74,65,105 banana
53 1 166,196,102 apple
54 1 208,195,210 sandwich
55 1 255,109,65 orange
56 1 0,143,149 broccoli
57 1 179,0,194 carrot
58 1 209,99,106 hot dog
59 1 5,121,0 pizza
60 1 227,255,205 donut
61 1 147,186,208 cake
62 1 153,69,1 chair
63 1 3,95,161 couch
64 1 163,255,0 potted plant
65 1 119,0,170 bed
67 1 0,182,199 dining table
70 1 0,165,120 toilet
72 1 183,130,88 tv
73 1 95,32,0 laptop
74 1 130,114,135 mouse
75 1 110,129,133 remote
76 1 166,74,118 keyboard
77 1 219,142,185 cell phone
78 1 79,210,114 microwave
79 1 178,90,62 oven
80 1 65,70,15 toaster
81 1 127,167,115 sink
82 1 59,105,106 refrigerator
84 1 142,108,45 book
85 1 196,172,0 clock
86 1 95,54,80 vase
87 1 128,76,255 scissors
88 1 201,57,1 teddy bear
89 1 246,0,122 hair drier
90 1 191,162,208 toothbrush
92 0 255,255,128 banner
93 0 147,211,203 blanket
95 0 150,100,100 bridge
100 0 168,171,172 cardboard
107 0 146,112,198 counter
109 0 210,170,100 curtain
112 0 92,136,89 door-stuff
118 0 218,88,184 floor-wood
119 0 241,129,0 flower
122 0 217,17,255 fruit
125 0 124,74,181 gravel
128 0 70,70,70 house
130 0 255,228,255 light
133 0 154,208,0 mirror-stuff
138 0 193,0,92 net
141 0 76,91,113 pillow
144 0 255,180,195 platform
145 0 106,154,176 playingfield
147 0 230,150,140 railroad
148 0 60,143,255 river
149 0 128,64,128 road
151 0 92,82,55 roof
154 0 254,212,124 sand
155 0 73,77,174 sea
156 0 255,160,98 shelf
159 0 255,255,255 snow
161 0 104,84,109 stairs
166 0 169,164,131 tent
168 0 225,199,255 towel
171 0 137,54,74 wall-brick
175 0 135,158,223 wall-stone
176 0 7,246,231 wall-tile
177 0 107,255,200 wall-wood
178 0 58,41,149 water-other
180 0 183,121,142 window-blind
181 0 255,73,97 window-other
184 0 107,142,35 tree-merged
185 0 190,153,153 fence-merged
186 0 146,139,141 ceiling-merged
187 0 70,130,180 sky-other-merged
188 0 134,199,156 cabinet-merged
189 0 209,226,140 table-merged
190 0 96,36,108 floor-other-merged
191 0 96,96,96 pavement-merged
192 0 64,170,64 mountain-merged
193 0 152,251,152 grass-merged
194 0 208,229,228 dirt-merged
195 0 206,186,171 paper-merged
196 0 152,161,64 food-other-merged
197 0 116,112,0 building-other-merged
198 0 0,114,143 rock-merged
199 0 102,102,156 wall-other-merged
200 0 250,141,255 rug-merged
"""
)

# COCO instance: the 80 thing categories of the panoptic table.
COCO_INSTANCE_CATEGORIES = tuple(c for c in COCO_PANOPTIC_CATEGORIES if c.is_thing)

# ADE20K SceneParsing 150 (ids 0..149 as written by Mask2Former's prepare_ade20k_pan_seg.py;
# the 100 things are the classes of the ADE20K instance annotations).
ADE20K_CATEGORIES = parse_categories(
    """
0 0 120,120,120 wall
1 0 180,120,120 building
2 0 6,230,230 sky
3 0 80,50,50 floor
4 0 4,200,3 tree
5 0 120,120,80 ceiling
6 0 140,140,140 road, route
7 1 204,5,255 bed
8 1 230,230,230 window
9 0 4,250,7 grass
10 1 224,5,255 cabinet
11 0 235,255,7 sidewalk, pavement
12 1 150,5,61 person
13 0 120,120,70 earth, ground
14 1 8,255,51 door
15 1 255,6,82 table
16 0 143,255,140 mountain, mount
17 0 204,255,4 plant
18 1 255,51,7 curtain
19 1 204,70,3 chair
20 1 0,102,200 car
21 0 61,230,250 water
22 1 255,6,51 painting, picture
23 1 11,102,255 sofa
24 1 255,7,71 shelf
25 0 255,9,224 house
26 0 9,7,230 sea
27 1 220,220,220 mirror
28 0 255,9,92 rug
29 0 112,9,255 field
30 1 8,255,214 armchair
31 1 7,255,224 seat
32 1 255,184,6 fence
33 1 10,255,71 desk
34 0 255,41,10 rock, stone
35 1 7,255,255 wardrobe, closet, press
36 1 224,255,8 lamp
37 1 102,8,255 tub
38 1 255,61,6 rail
39 1 255,194,7 cushion
40 0 255,122,8 base, pedestal, stand
41 1 0,255,20 box
42 1 255,8,41 column, pillar
43 1 255,5,153 signboard, sign
44 1 6,51,255 chest of drawers, chest, bureau, dresser
45 1 235,12,255 counter
46 0 160,150,20 sand
47 1 0,163,255 sink
48 0 140,140,140 skyscraper
49 1 250,10,15 fireplace
50 1 20,255,0 refrigerator, icebox
51 0 31,255,0 grandstand, covered stand
52 0 255,31,0 path
53 1 255,224,0 stairs
54 0 153,255,0 runway
55 1 0,0,255 case, display case, showcase, vitrine
56 1 255,71,0 pool table, billiard table, snooker table
57 1 0,235,255 pillow
58 1 0,173,255 screen door, screen
59 0 31,0,255 stairway, staircase
60 0 11,200,200 river
61 0 255,82,0 bridge, span
62 1 0,255,245 bookcase
63 0 0,61,255 blind, screen
64 1 0,255,112 coffee table
65 1 0,255,133 toilet, can, commode, crapper, pot, potty, stool, throne
66 1 255,0,0 flower
67 1 255,163,0 book
68 0 255,102,0 hill
69 1 194,255,0 bench
70 1 0,143,255 countertop
71 1 51,255,0 stove
72 1 0,82,255 palm, palm tree
73 1 0,255,41 kitchen island
74 1 0,255,173 computer
75 1 10,0,255 swivel chair
76 1 173,255,0 boat
77 0 0,255,153 bar
78 1 255,92,0 arcade machine
79 0 255,0,255 hovel, hut, hutch, shack, shanty
80 1 255,0,245 bus
81 1 255,0,102 towel
82 1 255,173,0 light
83 1 255,0,20 truck
84 0 255,184,184 tower
85 1 0,31,255 chandelier
86 1 0,255,61 awning, sunshade, sunblind
87 1 0,71,255 street lamp
88 1 255,0,204 booth
89 1 0,255,194 tv
90 1 0,255,82 plane
91 0 0,10,255 dirt track
92 1 0,112,255 clothes
93 1 51,0,255 pole
94 0 0,194,255 land, ground, soil
95 1 0,122,255 bannister, banister, balustrade, balusters, handrail
96 0 0,255,163 escalator, moving staircase, moving stairway
97 1 255,153,0 ottoman, pouf, pouffe, puff, hassock
98 1 0,255,10 bottle
99 0 255,112,0 buffet, counter, sideboard
100 0 143,255,0 poster, posting, placard, notice, bill, card
101 0 82,0,255 stage
102 1 163,255,0 van
103 1 255,235,0 ship
104 1 8,184,170 fountain
105 0 133,0,255 conveyer belt, conveyor belt, conveyer, conveyor, transporter
106 0 0,255,92 canopy
107 1 184,0,255 washer, automatic washer, washing machine
108 1 255,0,31 plaything, toy
109 0 0,184,255 pool
110 1 0,214,255 stool
111 1 255,0,112 barrel, cask
112 1 92,255,0 basket, handbasket
113 0 0,224,255 falls
114 0 112,224,255 tent
115 1 70,184,160 bag
116 1 163,0,255 minibike, motorbike
117 0 153,0,255 cradle
118 1 71,255,0 oven
119 1 255,0,163 ball
120 1 255,204,0 food, solid food
121 1 255,0,143 step, stair
122 0 0,255,235 tank, storage tank
123 1 133,255,0 trade name
124 1 255,0,235 microwave
125 1 245,0,255 pot
126 1 255,0,122 animal
127 1 255,245,0 bicycle
128 0 10,190,212 lake
129 1 214,255,0 dishwasher
130 1 0,204,255 screen
131 0 20,0,255 blanket, cover
132 1 255,255,0 sculpture
133 1 0,153,255 hood, exhaust hood
134 1 0,41,255 sconce
135 1 0,255,204 vase
136 1 41,0,255 traffic light
137 1 41,255,0 tray
138 1 173,0,255 trash can
139 1 0,245,255 fan
140 0 71,0,255 pier
141 0 122,0,255 crt screen
142 1 0,255,184 plate
143 1 0,92,255 monitor
144 1 184,255,0 bulletin board
145 0 0,133,255 shower
146 1 255,214,0 radiator
147 1 25,194,194 glass, drinking glass
148 1 102,255,0 clock
149 1 92,0,255 flag
"""
)

# ADE20K instance: the 100 thing categories (original ids are the 0-based semantic ids).
ADE20K_INSTANCE_CATEGORIES = tuple(c for c in ADE20K_CATEGORIES if c.is_thing)
