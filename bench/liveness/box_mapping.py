#!/usr/bin/python3
"""How our detector's boxes map onto the reference detector's (the boxes MiniFASNet's crop scales assume).

  box_mapping.py DETECTOR REF_DIR DET_DIR

REF_DIR holds SET.jsonl from `reference_pipeline.py score --out REF_DIR/SET.jsonl PHOTOS/SET`; DET_DIR holds
DETECTOR.SET.jsonl from `facenet detect --json -d DETECTOR PHOTOS/SET`. Faces are paired by overlap (IoU >= 0.3, the
reference's confidence >= 0.6); the map is the median over faces whose boxes do not touch the photo's edge (ORL left out
of the fit: its faces fill the frame). Prints the map and, per set, the median errors before and after it.
"""
import json,glob,os,numpy as np,sys
det, REF, DET = sys.argv[1], sys.argv[2], sys.argv[3]
sets=['silent-face-samples','face-api-js-bbt','5-celebrity-faces','deepface-unit-dataset','face_recognition-examples','facenet-pytorch-test-images','orl-faces','lfw-view1','cfp-dev']
def iou(a,b):
    ax2,ay2,bx2,by2=a[0]+a[2],a[1]+a[3],b[0]+b[2],b[1]+b[3]
    iw=max(0,min(ax2,bx2)-max(a[0],b[0])); ih=max(0,min(ay2,by2)-max(a[1],b[1]))
    u=a[2]*a[3]+b[2]*b[3]-iw*ih; return iw*ih/u if u>0 else 0
allrows={}
for s in sets:
    try: ref={json.loads(l)['file']:json.loads(l) for l in open(os.path.join(REF, f'{s}.jsonl'))}
    except FileNotFoundError: continue
    try: ours=[json.loads(l) for l in open(os.path.join(DET, f'{det}.{s}.jsonl'))]
    except FileNotFoundError: continue
    rows=[]
    for o in ours:
        r=ref.get(o['file'])
        if not r or not r.get('box') or r['confidence']<0.6 or not o['faces']: continue
        rb=r['box']; W,H=r['width'],r['height']
        best=max(o['faces'],key=lambda f:iou(f['box'],rb))
        if iou(best['box'],rb)<0.3: continue
        b=best['box']; edge = b[0]<=1 or b[1]<=1 or b[0]+b[2]>=W-1 or b[1]+b[3]>=H-1 or rb[0]<=1 or rb[1]<=1 or rb[0]+rb[2]>=W-1 or rb[1]+rb[3]>=H-1
        lm=best.get('landmarks')
        rows.append(dict(b=b,rb=rb,edge=edge,lm=lm,W=W,H=H))
    allrows[s]=rows
def feats(rows):
    b=np.array([r['b'] for r in rows],float); rb=np.array([r['rb'] for r in rows],float)
    cx=b[:,0]+b[:,2]/2; cy=b[:,1]+b[:,3]/2; rcx=rb[:,0]+rb[:,2]/2; rcy=rb[:,1]+rb[:,3]/2
    return np.stack([(rcx-cx)/b[:,2],(rcy-cy)/b[:,3],rb[:,2]/b[:,2],rb[:,3]/b[:,3]],1)
fit=np.concatenate([feats([r for r in rows if not r['edge']]) for s,rows in allrows.items() if s not in('orl-faces',) and rows])
med=np.median(fit,0)
print(det,'fit on',len(fit),'faces (not at an edge, ORL out): shiftX %.4f shiftY %.4f scaleW %.4f scaleH %.4f'%tuple(med))
print('IQR', np.percentile(fit,25,0).round(4), np.percentile(fit,75,0).round(4))
def err(rows,m):
    f=feats(rows)
    # size-relative errors of the mapped box vs the reference box: centre offset over ref width, width/height ratio error
    cxe=(f[:,0]-m[0])/f[:,2]; cye=(f[:,1]-m[1])/f[:,3]; we=f[:,2]/m[2]-1; he=f[:,3]/m[3]-1
    return np.median(np.abs(cxe)),np.median(np.abs(cye)),np.median(np.abs(we)),np.median(np.abs(he))
print('set n(non-edge) | identity: |dcx| |dcy| |dw| |dh| | mapped: same (medians, share of the reference box)')
for s,rows in allrows.items():
    rr=[r for r in rows if not r['edge']]
    if not rr: print(s,len(rows),'all at edges'); continue
    per=np.median(feats(rr),0)
    print(f"{s:28s} {len(rr):5d}/{len(rows):5d} id:", ' '.join(f'{v:.3f}' for v in err(rr,[0,0,1,1])), '| map:', ' '.join(f'{v:.3f}' for v in err(rr,med)), '| own median', per.round(3))
